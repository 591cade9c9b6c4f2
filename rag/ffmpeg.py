"""The ffmpeg binary that imageio-ffmpeg ships, and the pieces of its command lines that both
ingest (frames at 1/fps) and answers (a moment's clip frames) use. No system ffmpeg is needed."""

from __future__ import annotations

import functools
import re

PTS_TIME = re.compile(r"\bpts_time:\s*(-?[\d.]+)")  # a frame's time in ffmpeg's showinfo lines


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def input_arg(path: str) -> str:
    """ffmpeg reads a name that starts with `-` as an option, and one with `:` as a protocol."""
    return "file:" + path


def scale_filter(max_side: int) -> str:
    """Downscale so the longest side is at most `max_side` (never up), keeping even sizes."""
    return f"scale=w='if(gte(iw,ih),min({max_side},iw),-2)':h='if(gte(iw,ih),-2,min({max_side},ih))'"
