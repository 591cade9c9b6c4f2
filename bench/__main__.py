"""`python -m bench NAME [--json]`: frames, ingest, retrieval, prompt, player. See BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys


def machine() -> dict:
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the results as JSON")
    commands = parser.add_subparsers(dest="name", required=True)
    frames = commands.add_parser("frames", parents=[common], help="frame sampling against moviepy's iter_frames")
    frames.add_argument("video", nargs="?", help="default: a generated 10-minute 720p H.264 video")
    frames.add_argument("--repeats", type=int, default=3)
    frames.add_argument("--seconds", type=int, default=600, help="length of the generated video")
    ingest = commands.add_parser("ingest", parents=[common], help="time per stage, peak memory")
    ingest.add_argument("video", nargs="?", help="default: a generated 1-hour 720p H.264 video")
    ingest.add_argument("--seconds", type=int, default=3600, help="length of the generated video")
    ingest.add_argument("--subtitles", help="a subtitle file to use instead of Whisper")
    ingest.add_argument("--generated-subtitles", action="store_true",
                        help="a generated subtitle cue every 5 s instead of Whisper")
    ingest.add_argument("--default-shaped-models", action="store_true",
                        help="Whisper base and CLIP ViT-B-32 with random weights, for machines without hub access;"
                             " Whisper's decoder ends every window at once, so its decoding time is not measured")
    retrieval = commands.add_parser("retrieval", parents=[common], help="rag.search latency on a synthetic library")
    retrieval.add_argument("--hours", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    retrieval.add_argument("--queries", type=int, default=40)
    retrieval.add_argument("--default-shaped-models", action="store_true")
    commands.add_parser("prompt", parents=[common], help="Pixtral tokens of the default prompt and of the seed's")
    player = commands.add_parser("player", parents=[common],
                                 help="server memory while a large video plays and seeks in Chromium")
    player.add_argument("--size-mb", type=int, default=1024, help="size of the generated video")
    player.add_argument("--sessions", type=int, default=3, help="browser sessions playing it at once")
    player.add_argument("--seeks", type=int, default=8, help="seeks per session")
    args = parser.parse_args(argv)

    if getattr(args, "default_shaped_models", False):
        from bench.models import default_shaped_env

        os.environ.update(default_shaped_env())
    if args.name == "frames":
        from bench import frames as bench

        result = bench.run(args.video, repeats=args.repeats, seconds=args.seconds)
    elif args.name == "ingest":
        from bench import ingest as bench

        result = bench.run(args.video, subtitles=args.subtitles, seconds=args.seconds,
                           generated_subtitles=args.generated_subtitles)
    elif args.name == "retrieval":
        from bench import retrieval as bench

        result = {"runs": [bench.run(hours, queries=args.queries) for hours in args.hours]}
    elif args.name == "player":
        from bench import player as bench

        result = bench.run(args.size_mb, sessions=args.sessions, seeks=args.seeks)
    else:
        from bench import prompt as bench

        result = bench.run()
    result["machine"] = machine()
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def _table(result: dict, indent: str = "") -> str:
    lines = []
    for key, value in result.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.append(_table(value, indent + "  "))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines.append(_table(item, indent + "  "))
                lines.append("")
        else:
            lines.append(f"{indent}{key}: {value}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
