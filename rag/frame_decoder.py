"""The one frame decoder: ffmpeg keeps the frames a `select` filter picks, saves each as a JPEG
at most `max_side` pixels on its longest side, and tells each one's true time (`showinfo`).

Two planners decide what to pick. Ingest's sampler (ingest/stages/frames.py) reads the whole
packet list first and picks one frame per interval, with a bitstream filter so the decoder sees
only the packets those frames need: it pays off over hours of video. An answer's clip frames
(rag/answering/clips.py) seek to the keyframe before a moment (`-ss` before `-i`) and pick the
first frame at or after each of a few times: a few seconds per question. Both decode here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.ffmpeg import PTS_TIME, input_arg, run_ffmpeg_lines, scale_filter


def decode_frames(
    source: str,
    out_dir: Path,
    select: str,
    *,
    max_side: int,
    quality: int,
    stream: str = "0:v:0",
    count: int | None = None,
    bsf: str | None = None,
    seek_s: float | None = None,
    span_s: float | None = None,
    timeout_s: float | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[list[tuple[float, Path]], str]:
    """Decode the frames `select` keeps into `out_dir` (as 000000.jpg, 000001.jpg, ...).

    Without `seek_s`, times are the stream's own (`-copyts`); with it, decoding starts at the
    keyframe before `seek_s`, reads `span_s` seconds, and times are still seconds of the file.
    `count` stops ffmpeg once that many frames are out. `on_frame(done)` follows progress.
    Returns [(time, path)] in time order, and ffmpeg's last stderr line (for an error message).
    Long expressions go to ffmpeg in files (`-/vf`, `-/bsf:v`), so hours of video fit."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scripts = out_dir / ".ffmpeg"
    scripts.mkdir(exist_ok=True)
    (scripts / "filter").write_text(f"{select},showinfo,{scale_filter(max_side)}")
    args = ["-copyts"] if seek_s is None else ["-ss", f"{seek_s:.3f}"]
    if span_s is not None:
        args += ["-t", f"{span_s:.3f}"]
    if bsf:
        (scripts / "bsf").write_text(bsf)
        args += ["-/bsf:v", str(scripts / "bsf")]
    args += ["-i", input_arg(source), "-map", stream, "-/vf", str(scripts / "filter")]
    if count:
        args += ["-frames:v", str(count)]  # stop reading once the last chosen frame is out
    args += ["-fps_mode", "passthrough", "-q:v", str(quality), "-loglevel", "info", "-nostats"]
    args += ["-start_number", "0", str(out_dir / "%06d.jpg")]
    offset = seek_s or 0.0
    times: list[float] = []

    def on_line(line: str) -> None:
        if "showinfo" in line and (m := PTS_TIME.search(line)):
            times.append(round(offset + float(m.group(1)), 6))
            if on_frame:
                on_frame(len(times))

    try:
        _, last_line = run_ffmpeg_lines(args, on_line, timeout_s=timeout_s)
    finally:
        for script in scripts.iterdir():
            script.unlink()
        scripts.rmdir()
    written = sorted(out_dir.glob("*.jpg"))
    return list(zip(times, written, strict=False)), last_line
