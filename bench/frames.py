"""Frame sampling: the seed method (moviepy's iter_frames at 0.2 fps) against vidrag's sampler."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.media import test_video
from bench.stats import repeat
from ingest.probe import probe
from ingest.stages.frames import extract_frames

FPS = 0.2
KEYFRAME_S = 2.0  # of the generated video


def run(video: str | None = None, repeats: int = 3, seconds: int = 600) -> dict:
    path = Path(video) if video else test_video(seconds, keyframe_s=KEYFRAME_S)

    def moviepy_frames() -> int:
        from moviepy import VideoFileClip

        with VideoFileClip(str(path)) as clip:
            return sum(1 for _ in clip.iter_frames(fps=FPS))

    def vidrag_frames():
        out = Path(tempfile.mkdtemp(prefix="bench-frames-"))
        try:
            return extract_frames(probe(str(path)), out, FPS)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    seed, count = repeat(moviepy_frames, repeats)
    ours, frames = repeat(vidrag_frames, repeats)
    interval = 1 / FPS
    offsets = [abs(f.timestamp_s - round(f.timestamp_s / interval) * interval) for f in frames]
    return {
        "video": str(path),
        "moviepy_s": seed["median_s"],
        "vidrag_s": ours["median_s"],
        "speedup": round(seed["median_s"] / ours["median_s"], 2),
        "frames_moviepy": count,
        "frames_vidrag": len(frames),
        "max_offset_s": round(max(offsets), 3),
        "moviepy": seed,
        "vidrag": ours,
    }
