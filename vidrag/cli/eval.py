"""`vidrag eval`: measure search (and answers) on a suite of questions with known moments."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rag.errors import VidragError
from rag.eval import ABLATIONS, FUSION, MAX_WIDTH_S, TOLERANCE_S
from vidrag.cli import edge

EXIT_ANSWERS_FAILED = 3  # as `ask`: the VLM failed, the retrieval figures still stand


def _signal_rows(values: tuple[str, ...]) -> list[str]:
    """`--signals all`, or names given comma-separated and/or repeated; none given: the fusion only."""
    if not values:
        return [FUSION]
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    if not names or "all" in names:
        return list(ABLATIONS)
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise VidragError(f"unknown signal {unknown[0]!r}; choose from all, {', '.join(ABLATIONS)}")
    return list(dict.fromkeys(names))


@click.command(name="eval")
@click.argument("suite", metavar="SUITE.jsonl")
@click.option("--k", type=int, default=5, show_default=True, help="Moments retrieved per question.")
@click.option("--signals", multiple=True, metavar="NAMES",
              help=f"Compare searches, one row each: 'all', or some of {', '.join(ABLATIONS)} (comma-separated "
                   "or repeated). Default: the full fusion only.")
@click.option("--tolerance", type=float, default=TOLERANCE_S, show_default=True,
              help="Seconds a moment may start before the expected window.")
@click.option("--max-width", type=float, default=MAX_WIDTH_S, show_default=True,
              help="Widest moment that counts as a hit, in seconds.")
@click.option("--answers", is_flag=True,
              help="Also ask the VLM each question and check its citations and answer_contains.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@edge
def evaluate(suite: str, k: int, signals: tuple[str, ...], tolerance: float, max_width: float, answers: bool,
             as_json: bool) -> int:
    """Measure search (and answers) on a suite of questions.

    Each line of SUITE is JSON: {"question", "video" (name or id), "start_s", "end_s"},
    optionally "answer_contains".
    """
    from rag import Library
    from rag.eval import format_table, load_suite, resolve_videos, score_answers, score_search
    from vidrag.cli.find import running_server
    from vidrag.cli.remote import RemoteLibrary

    if k < 1 or tolerance < 0 or max_width <= 0:
        raise VidragError("--k must be at least 1, --tolerance at least 0 and --max-width above 0")
    from rag.speaker_eval import format_speakers, load_references

    rows = _signal_rows(signals)
    cases = load_suite(suite)  # a malformed suite fails before any model loads
    references = load_references(suite)
    server = running_server()
    library = RemoteLibrary(server) if server is not None else Library()  # a server holds the library
    try:
        videos = library.store.list_videos()
        video_ids = resolve_videos(cases, videos, where=Path(suite).name)
        speakers, speaker_row = _speakers(library, references, cases, video_ids, videos, suite, k, tolerance, max_width)
        table = [score_search(library.searcher, cases, video_ids, row, k, tolerance, max_width) for row in rows]
        table += [speaker_row] if speaker_row is not None else []
        scored_answers = score_answers(library, cases, video_ids, tolerance) if answers else None
    finally:
        library.close()
    if as_json:
        result = {"suite": suite, "questions": len(cases), "k": k, "tolerance_s": tolerance,
                  "max_width_s": max_width, "rows": [row.to_json() for row in table]}
        if scored_answers is not None:
            result["answers"] = scored_answers.to_json()
        if speakers:
            result["speakers"] = [s.to_json() for s in speakers]
        print(json.dumps(result, indent=2))
    else:
        print(f"{suite}: {len(cases)} questions, k={k}, tolerance {tolerance:g} s, max width {max_width:g} s")
        print(format_table(table, scored_answers))
        if speakers:
            print("\n" + format_speakers(speakers))
    if scored_answers is not None and scored_answers.failed:
        print(f"error: {len(scored_answers.failed)} answers failed; first: {scored_answers.failed[0]}",
              file=sys.stderr)
        return EXIT_ANSWERS_FAILED
    return 0


def _speakers(library, references, cases, video_ids, videos, suite, k, tolerance, max_width):
    """The speakers' scores per reference video, and the speaker-filtered search row (None when
    the suite has no questions with a voice)."""
    from rag.eval import Case, resolve_videos
    from rag.speaker_eval import score_speaker_search, score_speakers

    if not references:
        return [], None
    as_cases = [Case(r.line, "", r.video, 0.0, 1.0) for r in references]
    reference_ids = resolve_videos(as_cases, videos, where=Path(suite).name)
    scores, mapping = [], {}
    for reference in references:
        video_id = reference_ids[reference.line]
        said = library.store.video_text(video_id).said
        score = score_speakers(reference.video, reference.turns, said)
        scores.append(score)
        mapping[video_id] = score.mapping
    if not any(c.voice for c in cases):
        return scores, None
    return scores, score_speaker_search(library.searcher, cases, video_ids, mapping, k, tolerance, max_width)


COMMANDS = (evaluate,)
