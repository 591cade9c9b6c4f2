"""`vidrag videos|similar|summarize`: whole videos from the command line."""

from __future__ import annotations

import json
import sys

import click

from rag.clock import format_clock
from rag.errors import AnswerError, VidragError
from vidrag.cli import edge
from vidrag.cli.edge import EXIT_VLM_FAILED
from vidrag.cli.find import open_library, print_found
from vidrag.cli.terminal import printable


def _library_with(video_id: str):
    library = open_library()
    if library is None:
        raise VidragError(f"no video with id {video_id}")
    return library


@click.command()
@click.argument("query")
@click.option("--k", type=int, default=10, show_default=True, help="How many videos.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of videos.")
@edge
def videos(query: str, k: int, as_json: bool) -> int:
    """Whole videos ranked for a query."""
    from rag.videos.search import search_videos

    library = open_library()
    results = search_videos(library, query, k=k) if library else []
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
        return 0
    if not results and library:
        print("No matching videos.")
    for number, result in enumerate(results, 1):
        print(printable(f"{number}. {result.video.name} ({result.video.id}), score {result.score:.4f}"))
        if result.moment:
            m = result.moment
            quote = f' "{m.text}"' if m.text else ""
            print(printable(f"   best moment [{format_clock(m.start_s)}-{format_clock(m.end_s)}]{quote}"))
    return 0


@click.command()
@click.argument("video_id", metavar="VIDEO_ID")
@click.option("--at", type=float, default=None, metavar="SECONDS",
              help="Moments like this moment of the video, instead of whole videos.")
@click.option("--k", type=int, default=None,
              help="How many results (default 10 videos, or VIDRAG_SEARCH_K moments with --at).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@edge
def similar(video_id: str, at: float | None, k: int | None, as_json: bool) -> int:
    """Videos like this one (with --at: moments like that frame)."""
    library = _library_with(video_id)
    if at is not None:
        from rag.retrieval.image_search import similar as similar_moments

        return print_found(similar_moments(library.searcher, video_id, at, k=k), as_json)
    from rag.videos.search import similar_videos

    results = similar_videos(library, video_id, k=k or 10)
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    elif not results:
        print("No other videos to compare with.")
    for number, result in enumerate([] if as_json else results, 1):
        print(printable(f"{number}. {result.video.name} ({result.video.id}), similarity {result.score:.4f}"))
    return 0


@click.command()
@click.argument("video_id", metavar="ID")
@click.option("--force", is_flag=True, help="Write it again, even if one is stored.")
@click.option("--json", "as_json", is_flag=True, help='Print {"video_id", "summary", "chapters"}.')
@click.option("--format", "form", type=click.Choice(["text", "youtube", "webvtt"]), default="text",
              show_default=True, help="youtube: `00:00 Title` lines; webvtt: a WebVTT chapters track.")
@edge
def summarize(video_id: str, force: bool, as_json: bool, form: str) -> int:
    """A video's summary and chapters (written by the VLM once)."""
    from rag.videos.captions import chapters_to_webvtt
    from rag.videos.search import find_video
    from rag.videos.summarize import summarize_video

    library = _library_with(video_id)
    video = find_video(library.store, video_id)
    try:
        summary = summarize_video(library.store, library.settings, video.id, force=force)
    except AnswerError as e:
        print(printable(f"error: {e}"), file=sys.stderr)
        return EXIT_VLM_FAILED
    if as_json:
        print(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
    elif form == "youtube":
        print("\n".join(printable(f"{format_clock(c.start_s)} {c.title}") for c in summary.chapters))
    elif form == "webvtt":
        print(chapters_to_webvtt([(c.start_s, c.title) for c in summary.chapters], video.duration_s), end="")
    else:
        print(f"{printable(video.name)}\n\n{printable(summary.summary, keep_newlines=True)}\n\nChapters:")
        print("\n".join(printable(f"  {format_clock(c.start_s)} {c.title}") for c in summary.chapters))
    return 0


COMMANDS = (videos, similar, summarize)
