"""`vidrag videos|similar|summarize`: whole videos from the command line."""

from __future__ import annotations

import json
import sys
from urllib.parse import quote

import click

from rag.clock import format_clock
from rag.errors import AnswerError, VidragError
from vidrag.cli import edge
from vidrag.cli.edge import EXIT_VLM_FAILED
from vidrag.cli.find import NO_VIDEOS, open_library, print_found, running_server
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
    server = running_server()
    if server is not None:
        results = server.get("/search/videos", q=query, k=k)["videos"]
        if not results and not server.get("/videos")["videos"]:
            print(NO_VIDEOS, file=sys.stderr)
            return 0
    else:
        from rag.videos.search import search_videos

        library = open_library()
        if library is None:
            return 0
        results = [r.to_json() for r in search_videos(library, query, k=k)]
    if as_json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return 0
    if not results:
        print("No matching videos.")
    for number, result in enumerate(results, 1):
        print(printable(f"{number}. {result['name']} ({result['video_id']}), score {result['score']:.4f}"))
        if m := result.get("moment"):
            quote = f' "{m["text"]}"' if m.get("text") else ""
            print(printable(f"   best moment [{format_clock(m['start_s'])}-{format_clock(m['end_s'])}]{quote}"))
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
    server = running_server()
    if server is not None:
        from vidrag.cli.remote import moment_from_json

        found = server.get(f"/videos/{quote(video_id, safe='')}/similar", at=at, k=k)
        if at is not None:
            return print_found([moment_from_json(m) for m in found["moments"]], as_json)
        results = found["videos"]
    else:
        library = _library_with(video_id)
        if at is not None:
            from rag.retrieval.image_search import similar as similar_moments

            return print_found(similar_moments(library.searcher, video_id, at, k=k), as_json)
        from rag.videos.search import similar_videos

        results = [r.to_json() for r in similar_videos(library, video_id, k=k or 10)]
    if as_json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    elif not results:
        print("No other videos to compare with.")
    for number, result in enumerate([] if as_json else results, 1):
        print(printable(f"{number}. {result['name']} ({result['video_id']}), similarity {result['score']:.4f}"))
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

    try:
        name, duration_s, summary = _summary(video_id, force)
    except AnswerError as e:
        print(printable(f"error: {e}"), file=sys.stderr)
        return EXIT_VLM_FAILED
    chapters = summary["chapters"]
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    elif form == "youtube":
        print("\n".join(printable(f"{format_clock(c['start_s'])} {c['title']}") for c in chapters))
    elif form == "webvtt":
        print(chapters_to_webvtt([(c["start_s"], c["title"]) for c in chapters], duration_s), end="")
    else:
        print(f"{printable(name)}\n\n{printable(summary['summary'], keep_newlines=True)}\n\nChapters:")
        print("\n".join(printable(f"  {format_clock(c['start_s'])} {c['title']}") for c in chapters))
    return 0


def _summary(video_id: str, force: bool) -> tuple[str, float, dict]:
    """The video's name, duration and summary JSON, from the server or this process. Raises
    AnswerError when the VLM fails."""
    server = running_server()
    if server is not None:
        from vidrag.cli.remote import ServerRefused

        video = server.get(f"/videos/{quote(video_id, safe='')}")
        try:
            summary = server.call("POST", f"/videos/{quote(video['id'], safe='')}/summary",
                                  params={"force": "true"} if force else {}, timeout=None).json()
        except ServerRefused as e:
            if e.status == 502:
                raise AnswerError(str(e)) from e
            raise
        return video["name"], video.get("duration_s") or 0.0, summary
    from rag.videos.search import find_video
    from rag.videos.summarize import summarize_video

    library = _library_with(video_id)
    video = find_video(library.store, video_id)
    summary = summarize_video(library.store, library.settings, video.id, force=force)
    return video.name, video.duration_s, summary.to_json()


COMMANDS = (videos, similar, summarize)
