"""Ingest: wall time per stage, peak memory, and video seconds indexed per wall second."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bench.media import test_video
from ingest.stages import PROGRESS_STAGES

# The pipeline's stages, with the transcript's audio decoding timed apart from Whisper.
STAGES = tuple(s for stage in PROGRESS_STAGES for s in (("audio", stage) if stage == "transcript" else (stage,)))


def run(video: str | None = None, subtitles: str | None = None, seconds: int = 3600,
        generated_subtitles: bool = False, describe_stub: bool = False) -> dict:
    """Ingest one file into a fresh library in a temp folder, with the configured models.
    `generated_subtitles` writes a cue every 5 s, so the transcript stage skips Whisper.
    `describe_stub` describes the frames and summarizes the video through the tests' loopback
    OpenAI server, run in its own process so that its memory is not counted here."""
    path = Path(video) if video else test_video(seconds)
    if generated_subtitles and not subtitles:
        subtitles = str(_subtitles_for(path))
    with _stub_vlm() if describe_stub else nullcontext(None) as vlm_url:
        return _run(path, subtitles, vlm_url)


@contextmanager
def _stub_vlm():
    """The tests' StubVLM in a child process: yields its base URL."""
    root = Path(__file__).resolve().parent.parent
    code = ("import sys, time; sys.path.insert(0, 'tests'); from openai_stub import StubVLM; "
            "stub = StubVLM().__enter__(); print(stub.base_url, flush=True); time.sleep(86400)")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        yield child.stdout.readline().strip()
    finally:
        child.kill()
        child.wait()


def _run(path: Path, subtitles: str | None, vlm_url: str | None) -> dict:
    from ingest.pipeline import Ingestor
    from rag.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as data_dir:
        extra = {"vlm_base_url": vlm_url, "describe": "on", "summarize": "on"} if vlm_url else {}
        settings = load_settings(data_dir=Path(data_dir), **extra)
        ingestor = Ingestor(settings)
        marks: list[tuple[str, float]] = []

        def progress(stage: str, done: float, total: float) -> None:
            name = "audio" if stage == "transcript" and done == 0 else stage
            if stage == "transcript" and done == 1:  # the audio is decoded: Whisper starts
                name = "transcript"
            if not marks or marks[-1][0] != name:
                marks.append((name, time.perf_counter()))

        start = time.perf_counter()
        result = ingestor.add(path, subtitles=Path(subtitles) if subtitles else None, progress=progress)
        end = time.perf_counter()
        ingestor.store.close()
    stage_s = dict.fromkeys(STAGES, 0.0)
    for (name, at), (_, next_at) in zip(marks, marks[1:] + [("end", end)], strict=True):
        stage_s[name] += next_at - at
    video_info = result.video
    wall = end - start
    return {
        "video": str(path),
        "duration_s": video_info.duration_s,
        "status": result.status,
        "stage_s": {k: round(v, 3) for k, v in stage_s.items()},
        "wall_s": round(wall, 3),
        "video_s_per_wall_s": round(video_info.duration_s / wall, 2),
        # ffmpeg's own memory is left out: the children's ru_maxrss counts the pages a child shares
        # with this process between fork and exec, so it reads as large as this process.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "frames": video_info.frames,
        "text_chunks": video_info.text_chunks,
        "described_frames": result.described,
        "transcript": video_info.transcript_source,
        "models": {"whisper": settings.whisper_model, "clip": f"{settings.clip_model} {settings.clip_pretrained}",
                   "text": settings.text_model, "device": settings.resolved_device()},
    }


def _subtitles_for(video: Path) -> Path:
    """A WebVTT cue every 5 s of `video`, saved beside it, made of the retrieval benchmark's
    sentences."""
    import random

    from bench.retrieval import sentence
    from ingest.probe import probe
    from rag.types import Segment
    from rag.videos.captions import to_webvtt

    duration = probe(str(video)).duration_s or 0
    rng = random.Random(1)
    path = video.with_suffix(".generated.vtt")
    path.write_text(to_webvtt(Segment(float(t), t + 4.8, sentence(rng)) for t in range(0, int(duration), 5)))
    return path
