"""The `eval` subcommand of `python -m rag`: arguments, the run, and the output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.errors import VidragError
from rag.eval import ABLATIONS, FUSION, MAX_WIDTH_S, TOLERANCE_S

EXIT_ANSWERS_FAILED = 3  # as `ask`: the VLM failed, the retrieval figures still stand


def add_eval_parser(commands) -> None:
    evaluate = commands.add_parser(
        "eval", help="measure search (and answers) on a suite of questions with known moments",
        description="Each line of SUITE is JSON: {\"question\", \"video\" (name or id), \"start_s\", \"end_s\"}, "
                    "optionally \"answer_contains\".")
    evaluate.add_argument("suite", metavar="SUITE.jsonl")
    evaluate.add_argument("--k", type=int, default=5, help="moments retrieved per question (default 5)")
    evaluate.add_argument("--signals", nargs="*", choices=ABLATIONS, metavar="SIGNAL", default=None,
                          help=f"compare searches, one row each: {', '.join(ABLATIONS)} "
                               "(no names: all of them). Default: the full fusion only")
    evaluate.add_argument("--tolerance", type=float, default=TOLERANCE_S,
                          help=f"seconds a moment may start before the expected window (default {TOLERANCE_S:g})")
    evaluate.add_argument("--max-width", type=float, default=MAX_WIDTH_S,
                          help=f"widest moment that counts as a hit, in seconds (default {MAX_WIDTH_S:g})")
    evaluate.add_argument("--answers", action="store_true",
                          help="also ask the VLM each question and check its citations and answer_contains")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")


def run_eval(args) -> int:
    from rag import Library
    from rag.eval import format_table, load_suite, resolve_videos, score_answers, score_search

    if args.k < 1 or args.tolerance < 0 or args.max_width <= 0:
        raise VidragError("--k must be at least 1, --tolerance at least 0 and --max-width above 0")
    cases = load_suite(args.suite)  # a malformed suite fails before any model loads
    library = Library()
    try:
        video_ids = resolve_videos(cases, library.store.list_videos(), where=Path(args.suite).name)
        rows = [FUSION] if args.signals is None else (list(dict.fromkeys(args.signals)) or list(ABLATIONS))
        table = [score_search(library.searcher, cases, video_ids, row, args.k, args.tolerance, args.max_width)
                 for row in rows]
        answers = score_answers(library, cases, video_ids, args.tolerance) if args.answers else None
    finally:
        library.close()
    if args.json:
        result = {"suite": args.suite, "questions": len(cases), "k": args.k, "tolerance_s": args.tolerance,
                  "max_width_s": args.max_width, "rows": [row.to_json() for row in table]}
        if answers is not None:
            result["answers"] = answers.to_json()
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.suite}: {len(cases)} questions, k={args.k}, tolerance {args.tolerance:g} s, "
              f"max width {args.max_width:g} s")
        print(format_table(table, answers))
    if answers is not None and answers.failed:
        print(f"error: {len(answers.failed)} answers failed; first: {answers.failed[0]}", file=sys.stderr)
        return EXIT_ANSWERS_FAILED
    return 0
