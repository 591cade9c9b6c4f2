"""`vidrag search|ask`: the moments that match, or a cited answer from the VLM."""

from __future__ import annotations

import json
import sys

import click

from rag.clock import format_clock
from rag.errors import AnswerError, VidragError
from vidrag.cli import edge
from vidrag.cli.edge import EXIT_VLM_FAILED
from vidrag.cli.terminal import printable

NO_VIDEOS = "No videos indexed yet. Add some with: vidrag add PATH"
video_option = click.option("--video", "video_ids", multiple=True, metavar="ID",
                            help="Only this video (repeatable).")


def open_library():
    """The configured library, or None (after saying so) when it holds no video yet."""
    from rag import Library

    library = Library()
    if not library.store.list_videos():
        print(NO_VIDEOS, file=sys.stderr)
        library.close()
        return None
    return library


@click.command()
@click.argument("query", required=False, default="")
@click.option("--image", metavar="PATH", help="A JPEG, PNG or WebP image: moments that look like it.")
@click.option("--tag", metavar="TAG", help="Only moments whose frames carry this zero-shot tag.")
@click.option("--speaker", metavar="WHO", help="Only what this speaker said: a label (S2) or the name given to one.")
@video_option
@click.option("--k", type=int, default=None, help="How many moments (default VIDRAG_SEARCH_K).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of moments.")
@edge
def search(query: str, image: str | None, tag: str | None, speaker: str | None, video_ids: tuple[str, ...],
           k: int | None, as_json: bool) -> int:
    """Find the moments that match words, an --image, or both."""
    if not query.strip() and not image:
        raise VidragError("give a query, an --image, or both")
    if speaker is not None and (tag or image or not speaker.strip()):
        raise VidragError("--speaker needs words to search for, without --tag or --image" if speaker.strip()
                          else "--speaker is empty")
    server = running_server()
    if server is not None:
        return print_found(_search_through(server, query, image, tag, list(video_ids) or None, k, speaker), as_json)
    library = open_library()
    if library is None:
        if as_json:
            print("[]")
        return 0
    if tag:
        from rag.retrieval.tags import search_with_tag

        moments = search_with_tag(library.searcher, query, tag, video_ids=list(video_ids) or None, k=k, image=image)
    else:
        moments = library.searcher.search(query, video_ids=list(video_ids) or None, k=k, image=image, speaker=speaker)
    return print_found(moments, as_json)


@click.command()
@click.argument("question")
@video_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object when done.")
@edge
def ask(question: str, video_ids: tuple[str, ...], as_json: bool) -> int:
    """Answer a question from the videos, with cited times."""
    server = running_server()
    if server is not None:
        return _ask_through(server, question, list(video_ids) or None, as_json)
    library = open_library()
    if library is None:
        if as_json:
            print(json.dumps(_ask_json(None, [])))
        return 0
    answer = library.answer(question, video_ids=list(video_ids) or None)
    if not answer.moments:
        if as_json:
            print(json.dumps(_ask_json(answer, []), indent=2, ensure_ascii=False))
        else:
            print("No matching moments: the videos don't seem to cover this.")
        return 0
    failure = None
    try:
        for piece in answer:
            if not as_json:
                print(printable(piece, keep_newlines=True), end="", flush=True)
    except AnswerError as e:
        failure = e
    if as_json:
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


def running_server():
    """The server holding the library (VIDRAG_SERVER_URL, or the one in the data folder), if any."""
    from rag.settings import load_settings
    from vidrag.cli.remote import server_for

    return server_for(load_settings())


def _search_through(server, query, image, tag, video_ids, k, speaker=None) -> list:
    from pathlib import Path

    from rag.retrieval.image_search import check_query_image
    from vidrag.cli.remote import moment_from_json

    params = {"q": query, "video": video_ids, "k": k, "tag": tag, "speaker": speaker}
    if image:
        path = check_query_image(image)
        with open(path, "rb") as data:
            found = server.call("POST", "/search", params={k: v for k, v in params.items() if v},
                                files={"image": (Path(path).name, data)}).json()
    else:
        found = server.get("/search", **params)
    return [moment_from_json(m) for m in found["moments"]]


def _ask_through(server, question: str, video_ids, as_json: bool) -> int:
    """The answer streamed from the server's /ask: printed as the in-process command prints it."""
    from vidrag.cli.remote import moment_from_json

    text, end = "", {}
    for event, data in server.ask_events(question, video_ids):
        if event == "answer":
            text += data["text"]
            if not as_json:
                print(printable(data["text"], keep_newlines=True), end="", flush=True)
        else:
            end = {"event": event, **data}
    moments = [moment_from_json(m) for m in end.get("moments", [])]
    if as_json:
        result = {"answer": end.get("answer", text), "citations": end.get("citations", []),
                  "moments": end.get("moments", []), "prompt_tokens": end.get("prompt_tokens", 0)}
        if end.get("event") == "error":
            result.update(error=end["error"], cut=end.get("cut", False))
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif not moments:
        print("No matching moments: the videos don't seem to cover this.")
        return 0
    else:
        if text:
            print(" [answer cut short]" if end.get("cut") else "")
        unsupported = [c["label"] for c in end.get("citations", []) if not c["supported"]]
        if unsupported:
            print(printable(f"(not found in the retrieved moments: {', '.join(unsupported)})"))
        print("\nSources:" if end.get("event") != "error" else "Moments found:")
        print_moments(moments)
    if end.get("event") == "error":
        print(printable(f"error: {end['error']} (showing the moments only)"), file=sys.stderr)
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


def print_found(moments, as_json: bool) -> int:
    if as_json:
        print(json.dumps([m.to_json() for m in moments], indent=2, ensure_ascii=False))
    elif not moments:
        print("No matching moments.")
    else:
        print_moments(moments)
    return 0


def print_moments(moments) -> None:
    for number, m in enumerate(moments, 1):
        span = f"[{format_clock(m.start_s)}-{format_clock(m.end_s)}]"
        print(printable(f"{number}. {m.video_name} {span}  ({'+'.join(m.signals)}, score {m.score:.4f})"))
        if m.text:
            by = f" by {', '.join(m.speakers)}" if len(m.speakers) == 1 else ""
            print(printable(f"   said{by}: \"{m.text}\""))
        if m.seen:
            print(printable(f"   seen: \"{m.seen}\""))
        if m.screen:  # lines of text on screen, on one line here
            print(printable(f"   screen: \"{' / '.join(m.screen.splitlines())}\""))
        if m.frame:
            print(printable(f"   frame at [{format_clock(m.frame.timestamp_s)}]: {m.frame.path}"))


COMMANDS = (search, ask)
