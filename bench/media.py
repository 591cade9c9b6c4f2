"""Test media for benchmarks, made with the ffmpeg that imageio-ffmpeg ships."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ingest.ffmpeg import ffmpeg_exe

CACHE = Path(__file__).resolve().parent / ".cache"  # generated inputs, reused between runs


def test_video(seconds: int, height: int = 720, keyframe_s: float = 2.0, fps: int = 24, audio: bool = True,
               folder: Path = CACHE) -> Path:
    """An H.264 video of moving test patterns (and a tone) with a keyframe every `keyframe_s`."""
    width = height * 16 // 9
    path = folder / f"test_{seconds}s_{height}p_gop{keyframe_s:g}s{'' if audio else '_silent'}.mp4"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    gop = max(1, round(keyframe_s * fps))
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(gop),
             "-keyint_min", str(gop), "-sc_threshold", "0", "-shortest", str(path.with_suffix(".partial.mp4"))]
    subprocess.run(args, check=True)
    path.with_suffix(".partial.mp4").rename(path)
    return path


def shared_media(name: str) -> Path | None:
    """A clip of ../shared/media beside the checkout, or None where that folder is missing."""
    path = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / name
    return path if path.exists() else None
