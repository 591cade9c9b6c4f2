"""`python -m rag`: search the library, or ask it a question, from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Callable

from rag.clock import format_clock
from rag.errors import AnswerError, VidragError, first_line
from rag.eval_cli import add_eval_parser, run_eval
from rag.terminal import printable
from rag.video_cli import VIDEO_COMMANDS, add_video_commands

EXIT_ERROR = 1
EXIT_VLM_FAILED = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Search your videos, or ask about them.")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks and library logs")
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="find the moments that match a query")
    search.add_argument("query", nargs="?", default="", help="words to search for (optional with --image)")
    search.add_argument("--image", metavar="PATH", help="a JPEG, PNG or WebP image: moments that look like it")
    search.add_argument("--tag", metavar="TAG", help="only moments whose frames carry this zero-shot tag")
    search.add_argument("--video", action="append", metavar="ID", help="only this video (repeatable)")
    search.add_argument("--k", type=int, default=None, help="how many moments (default VIDRAG_SEARCH_K)")
    search.add_argument("--json", action="store_true", help="print a JSON array of moments")
    ask = commands.add_parser("ask", help="answer a question from the videos, with cited times")
    ask.add_argument("question")
    ask.add_argument("--video", action="append", metavar="ID", help="only this video (repeatable)")
    ask.add_argument("--json", action="store_true", help="print one JSON object when done")
    mcp = commands.add_parser("mcp", help="serve the library to MCP clients (stdio, or --http)")
    mcp.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1 instead of stdio")
    mcp.add_argument("--port", type=int, default=8765, help="the HTTP port (default 8765)")
    add_eval_parser(commands)
    add_video_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "mcp":
        return run_command(lambda: _mcp(args), args.verbose)
    return run_command(lambda: _run(args), args.verbose)


def _mcp(args) -> int:
    from rag.mcp_server import serve
    from rag.settings import load_settings

    return serve(load_settings(), http=args.http, port=args.port)


def _run(args) -> int:
    from rag import Library

    if args.command == "eval":
        return run_eval(args)
    library = Library()
    if not library.store.list_videos():
        print("No videos indexed yet. Add some with: python -m ingest add PATH", file=sys.stderr)
        if args.command in VIDEO_COMMANDS and args.command != "videos":
            raise VidragError(f"no video with id {args.video_id}")
        if args.json:
            print(json.dumps(_ask_json(None, []) if args.command == "ask" else []))
        return 0
    if args.command == "similar" and args.at is not None:
        return _similar(args, library)
    if args.command in VIDEO_COMMANDS:
        return VIDEO_COMMANDS[args.command](args, library)
    return {"search": _search, "ask": _ask}[args.command](args, library)


def run_command(command: Callable[[], int], verbose: bool, interrupted: str = "") -> int:
    """The edge of both CLIs: libraries kept quiet, and any error one line on stderr (a
    traceback only with --verbose), exit 1; Ctrl-C exits 130 after `interrupted`, if given."""
    quiet_libraries(verbose)
    try:
        return command()
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if verbose:
            logging.exception("error")
        message = str(error) if isinstance(error, VidragError) else f"{type(error).__name__}: {first_line(error)}"
        print(printable(f"error: {message}"), file=sys.stderr)
        return EXIT_ERROR


def _search(args, library) -> int:
    if not args.query.strip() and not args.image:
        raise VidragError("give a query, an --image, or both")
    if args.tag:
        from rag.tags import search_with_tag

        moments = search_with_tag(library.searcher, args.query, args.tag, video_ids=args.video, k=args.k,
                                  image=args.image)
    else:
        moments = library.searcher.search(args.query, video_ids=args.video, k=args.k, image=args.image)
    return _print_found(args, moments)


def _similar(args, library) -> int:
    from rag.image_search import similar

    return _print_found(args, similar(library.searcher, args.video_id, args.at, k=args.k))


def _print_found(args, moments) -> int:
    if args.json:
        print(json.dumps([m.to_json() for m in moments], indent=2, ensure_ascii=False))
    elif not moments:
        print("No matching moments.")
    else:
        print_moments(moments)
    return 0


def _ask(args, library) -> int:
    answer = library.answer(args.question, video_ids=args.video)
    if not answer.moments:
        if args.json:
            print(json.dumps(_ask_json(answer, []), indent=2, ensure_ascii=False))
        else:
            print("No matching moments: the videos don't seem to cover this.")
        return 0
    failure = None
    try:
        for piece in answer:
            if not args.json:
                print(printable(piece, keep_newlines=True), end="", flush=True)
    except AnswerError as e:
        failure = e
    if args.json:
        print(json.dumps(_ask_json(answer, answer.citations, failure), indent=2, ensure_ascii=False))
    else:
        if answer.text:
            print(" [answer cut short]" if answer.cut else "")
        unsupported = [c.label for c in answer.citations if not c.supported]
        if unsupported:
            print(printable(f"(not found in the retrieved moments: {', '.join(unsupported)})"))
        print("\nSources:" if not failure else "Moments found:")
        print_moments(answer.moments)
    if failure:
        print(printable(f"error: {failure} (showing the moments only)"), file=sys.stderr)
        return EXIT_VLM_FAILED
    return 0


def _ask_json(answer, citations, failure=None) -> dict:
    result = {
        "answer": answer.text if answer else "",
        "citations": [c.to_json() for c in citations],
        "moments": [m.to_json() for m in answer.moments] if answer else [],
        "prompt_tokens": answer.prompt_tokens if answer else 0,
    }
    if failure:
        result["error"] = str(failure)
        result["cut"] = answer.cut
    return result


def print_moments(moments) -> None:
    for number, m in enumerate(moments, 1):
        span = f"[{format_clock(m.start_s)}-{format_clock(m.end_s)}]"
        print(printable(f"{number}. {m.video_name} {span}  ({'+'.join(m.signals)}, score {m.score:.4f})"))
        if m.text:
            print(printable(f"   said: \"{m.text}\""))
        if m.seen:
            print(printable(f"   seen: \"{m.seen}\""))
        if m.frame:
            print(printable(f"   frame at [{format_clock(m.frame.timestamp_s)}]: {m.frame.path}"))


def quiet_libraries(verbose: bool) -> None:
    """Libraries log and warn freely; a user sees our one-line messages unless --verbose."""
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(name)s: %(message)s")
    if not verbose:
        warnings.filterwarnings("ignore")
        # grpc logs Milvus Lite's "method not implemented" answers (it falls back by itself).
        for name in ("milvus_lite", "pymilvus", "grpc", "sentence_transformers", "transformers", "huggingface_hub",
                     "httpx", "openai"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
