"""`python -m rag summarize|videos|similar`: whole videos from the command line (rag/cli.py
holds the parser and the error edge)."""

from __future__ import annotations

import json
import sys

from rag.clock import format_clock
from rag.errors import AnswerError
from rag.terminal import printable
from rag.webvtt import chapters_to_webvtt

EXIT_VLM_FAILED = 3


def add_video_commands(commands) -> None:
    summarize = commands.add_parser("summarize", help="a video's summary and chapters (written by the VLM once)")
    summarize.add_argument("video_id", metavar="ID")
    summarize.add_argument("--force", action="store_true", help="write it again, even if one is stored")
    summarize.add_argument("--json", action="store_true", help='print {"video_id", "summary", "chapters"}')
    summarize.add_argument("--format", choices=("text", "youtube", "webvtt"), default="text",
                           help="text (default); youtube: `00:00 Title` lines; webvtt: a WebVTT chapters track")
    videos = commands.add_parser("videos", help="whole videos ranked for a query")
    videos.add_argument("query")
    videos.add_argument("--k", type=int, default=10, help="how many videos (default 10)")
    videos.add_argument("--json", action="store_true", help="print a JSON array of videos")
    similar = commands.add_parser("similar", help="videos like this one (with --at: moments like that frame)")
    similar.add_argument("video_id", metavar="VIDEO_ID")
    similar.add_argument("--at", type=float, default=None, metavar="SECONDS",
                         help="moments like this moment of the video, instead of whole videos")
    similar.add_argument("--k", type=int, default=None,
                         help="how many results (default 10 videos, or VIDRAG_SEARCH_K moments with --at)")
    similar.add_argument("--json", action="store_true", help="print a JSON array")


def _summarize(args, library) -> int:
    from rag.summarize import summarize_video
    from rag.video_search import find_video

    video = find_video(library.store, args.video_id)
    try:
        summary = summarize_video(library.store, library.settings, video.id, force=args.force)
    except AnswerError as e:
        print(printable(f"error: {e}"), file=sys.stderr)
        return EXIT_VLM_FAILED
    if args.json:
        print(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
    elif args.format == "youtube":
        print("\n".join(printable(f"{format_clock(c.start_s)} {c.title}") for c in summary.chapters))
    elif args.format == "webvtt":
        print(chapters_to_webvtt([(c.start_s, c.title) for c in summary.chapters], video.duration_s), end="")
    else:
        print(f"{printable(video.name)}\n\n{printable(summary.summary, keep_newlines=True)}\n\nChapters:")
        print("\n".join(printable(f"  {format_clock(c.start_s)} {c.title}") for c in summary.chapters))
    return 0


def _videos(args, library) -> int:
    from rag.video_search import search_videos

    results = search_videos(library, args.query, k=args.k)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    elif not results:
        print("No matching videos.")
    for number, result in enumerate([] if args.json else results, 1):
        print(printable(f"{number}. {result.video.name} ({result.video.id}), score {result.score:.4f}"))
        if result.moment:
            m = result.moment
            quote = f' "{m.text}"' if m.text else ""
            print(printable(f"   best moment [{format_clock(m.start_s)}-{format_clock(m.end_s)}]{quote}"))
    return 0


def _similar(args, library) -> int:
    from rag.video_search import similar_videos

    results = similar_videos(library, args.video_id, k=args.k or 10)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    elif not results:
        print("No other videos to compare with.")
    for number, result in enumerate([] if args.json else results, 1):
        print(printable(f"{number}. {result.video.name} ({result.video.id}), similarity {result.score:.4f}"))
    return 0


VIDEO_COMMANDS = {"summarize": _summarize, "videos": _videos, "similar": _similar}
