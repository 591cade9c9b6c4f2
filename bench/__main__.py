"""`python -m bench NAME [--json]`: frames, ingest, retrieval, prompt, describe, videos, clips,
whisper, player, server, ocr, speakers, ray. See BENCHMARKS.md."""

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
    ingest.add_argument("--speech", action="store_true",
                        help="the generated video speaks (espeak-ng talk) instead of a sine tone")
    ingest.add_argument("--describe-stub", action="store_true",
                        help="describe frames and summarize through the tests' loopback OpenAI server")
    ingest.add_argument("--default-shaped-models", action="store_true",
                        help="Whisper base and CLIP ViT-B-32 with random weights, for machines without hub access;"
                             " Whisper's decoder ends every window at once, so its decoding time is not measured")
    whisper = commands.add_parser("whisper", parents=[common],
                                  help="real-time factor of Whisper settings on espeak-ng talk; a silent hour")
    whisper.add_argument("model", help="a real Whisper checkpoint, e.g. ../shared/models/whisper-tiny.en.pt")
    whisper.add_argument("--seconds", type=int, default=600, help="length of the talk")
    whisper.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    whisper.add_argument("--only", nargs="+", help="setting names to run (default: all)")
    whisper.add_argument("--no-silent-hour", action="store_true")
    whisper.add_argument("--ct2", metavar="DIR", help="also faster-whisper int8 on a CTranslate2 model folder")
    whisper.add_argument("--ct2-python", metavar="PY", help="a Python with faster-whisper (default: this one)")
    retrieval = commands.add_parser("retrieval", parents=[common], help="search latency on a synthetic library")
    retrieval.add_argument("--hours", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    retrieval.add_argument("--queries", type=int, default=40)
    retrieval.add_argument("--stores", nargs="+", default=["lite"], metavar="STORE",
                           help='"lite" (the embedded Milvus Lite as vidrag runs it), "lite-published" (without '
                                'rag/lite_speedup) and/or Milvus server URLs, asked in turn')
    retrieval.add_argument("--default-shaped-models", action="store_true")
    commands.add_parser("prompt", parents=[common], help="Pixtral tokens of the default prompt and of the seed's")
    describe = commands.add_parser("describe", parents=[common],
                                   help="frame descriptions: requests and tokens per hour, overhead per 100 frames")
    describe.add_argument("--frames", type=int, default=100)
    describe.add_argument("--default-shaped-models", action="store_true")
    videos = commands.add_parser("videos", parents=[common], help="rag videos / rag similar / a Library page at scale")
    videos.add_argument("--videos", type=int, default=1000)
    videos.add_argument("--queries", type=int, default=20)
    videos.add_argument("--default-shaped-models", action="store_true")
    clips = commands.add_parser("clips", parents=[common], help="clip context's decode time per question")
    clips.add_argument("video", nargs="?", help="default: a generated 10-minute 720p H.264 video")
    clips.add_argument("--questions", type=int, default=20)
    player = commands.add_parser("player", parents=[common],
                                 help="server memory while a large video plays and seeks in Chromium")
    player.add_argument("--size-mb", type=int, default=1024, help="size of the generated video")
    player.add_argument("--sessions", type=int, default=3, help="browser sessions playing it at once")
    player.add_argument("--seeks", type=int, default=8, help="seeks per session")
    server = commands.add_parser("server", parents=[common],
                                 help="vidrag serve under concurrent API searches, with an ingest job running")
    server.add_argument("--hours", type=float, default=10.0, help="video-hours in the synthetic library")
    server.add_argument("--clients", type=int, default=16)
    server.add_argument("--seconds", type=float, default=60.0, help="how long the clients ask at once")
    server.add_argument("--single-seconds", type=float, default=20.0, help="each single-client phase")
    server.add_argument("--think", type=float, default=0.0, help="mean seconds each client waits between searches")
    server.add_argument("--query-batch", type=int, nargs="+", default=[0, 32],
                        help="VIDRAG_QUERY_BATCH values to compare, one server each")
    server.add_argument("--default-shaped-models", action="store_true")
    ocr = commands.add_parser("ocr", parents=[common],
                              help="OCR engines side by side on the eval deck; the read stage's cost in an ingest")
    ocr.add_argument("--minutes", type=float, default=10.0, help="length of the generated slide deck")
    ocr.add_argument("--default-shaped-models", action="store_true")
    speakers = commands.add_parser("speakers", parents=[common],
                                   help="the speakers stage's cost beside the transcript's; choices side by side")
    speakers.add_argument("model", help="a real Whisper checkpoint, e.g. ../shared/models/whisper-tiny.en.pt")
    speakers.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ray_ingest = commands.add_parser("ray", parents=[common], help="4 clips added in-process against through Ray")
    ray_ingest.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    if getattr(args, "default_shaped_models", False):
        from bench.models import default_shaped_env

        os.environ.update(default_shaped_env())
    if args.name == "frames":
        from bench import frames as bench

        result = bench.run(args.video, repeats=args.repeats, seconds=args.seconds)
    elif args.name == "ingest":
        from bench import ingest as bench

        video = args.video
        if args.speech and not video:
            from bench.speech import talk_video

            video = str(talk_video(args.seconds))
        result = bench.run(video, subtitles=args.subtitles, seconds=args.seconds,
                           generated_subtitles=args.generated_subtitles, describe_stub=args.describe_stub)
    elif args.name == "whisper":
        from bench import whisper as bench

        result = bench.run(args.model, seconds=args.seconds, settings=args.only, threads=args.threads,
                           silent_hour=not args.no_silent_hour, ct2_model=args.ct2, ct2_python=args.ct2_python)
    elif args.name == "retrieval":
        from bench import retrieval as bench

        result = {"runs": [bench.run(hours, queries=args.queries, uris=tuple(args.stores)) for hours in args.hours]}
    elif args.name == "describe":
        from bench import describe as bench

        result = bench.run(args.frames)
    elif args.name == "videos":
        from bench import videos as bench

        result = bench.run(args.videos, queries=args.queries)
    elif args.name == "clips":
        from bench import clips as bench

        result = bench.run(args.video, questions=args.questions)
    elif args.name == "player":
        from bench import player as bench

        result = bench.run(args.size_mb, sessions=args.sessions, seeks=args.seeks)
    elif args.name == "server":
        from bench import server_load as bench

        result = bench.run(args.hours, clients=args.clients, seconds=args.seconds, single_s=args.single_seconds,
                           think_s=args.think, query_batches=tuple(args.query_batch))
    elif args.name == "ocr":
        from bench import ocr as bench

        result = bench.run(args.minutes)
    elif args.name == "ray":
        from bench import ray_ingest as bench

        result = bench.run(args.workers)
    elif args.name == "speakers":
        from bench import speakers as bench

        result = bench.run(args.model, threads=args.threads)
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
