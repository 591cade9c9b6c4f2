"""Clip context's cost per question: decoding the best moments' sequence frames from the stored
video (cold, then from the cache), as Library.answer does before the first token."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from bench.media import test_video
from bench.stats import percentile, summary
from rag.answering.clips import ClipFrames, clip_times
from rag.settings import Settings
from rag.types import Video

KEYFRAME_S = 2.0  # of the generated video, as in the frames benchmark
MOMENT_S = 4.8  # a typical moment: one narrowed segment


def run(video: str | None = None, questions: int = 20, seconds: int = 600) -> dict:
    import time

    settings = Settings(_env_file=None)
    path = Path(video) if video else test_video(seconds, keyframe_s=KEYFRAME_S)
    duration = seconds if not video else _duration(path)
    stored = Video("bench", path.name, str(path), duration)
    rng = random.Random(3)
    starts = [round(rng.uniform(0, duration - MOMENT_S - 1), 2) for _ in range(questions)]
    cache = Path(tempfile.mkdtemp(prefix="bench-clips-"))
    try:
        decoder = ClipFrames(cache, settings.vlm_clip_frame_side)
        cold, warm, counts = [], [], []
        for start in starts:
            times = clip_times(start, start + MOMENT_S, settings.vlm_clip_frames)
            began = time.perf_counter()
            frames = decoder.frames(stored, times)
            cold.append(time.perf_counter() - began)
            counts.append(len(frames))
            began = time.perf_counter()
            decoder.frames(stored, times)
            warm.append(time.perf_counter() - began)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {
        "video": str(path),
        "questions": questions,
        "clip_frames_per_question": settings.vlm_clip_frames,
        "frame_side_px": settings.vlm_clip_frame_side,
        "frames_decoded_min": min(counts),
        "cold_p50_ms": round(percentile(cold, 50) * 1000, 1),
        "cold_p95_ms": round(percentile(cold, 95) * 1000, 1),
        "cached_p50_ms": round(percentile(warm, 50) * 1000, 2),
        "cold": summary(cold),
    }


def _duration(path: Path) -> float:
    from ingest.probe import probe

    return probe(str(path)).duration_s
