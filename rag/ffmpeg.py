"""The ffmpeg binary that imageio-ffmpeg ships, and the pieces of its command lines that both
ingest (frames at 1/fps) and answers (a moment's clip frames) use. No system ffmpeg is needed."""

from __future__ import annotations

import functools
import re
import subprocess
import threading
from collections.abc import Callable, Sequence

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


def run_ffmpeg_lines(args: Sequence[str], on_line: Callable[[str], None],
                     timeout_s: float | None = None) -> tuple[int, str]:
    """Run ffmpeg, handing each stderr line to `on_line` as it comes (for progress). Returns the
    exit code and the last line of stderr. Past `timeout_s` ffmpeg is killed (exit code < 0)."""
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    last = ""
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        timer = threading.Timer(timeout_s, process.kill) if timeout_s else None
        if timer:
            timer.start()
        try:
            for raw in process.stderr:
                line = raw.decode("utf-8", errors="replace").rstrip()
                if line:
                    last = line
                    on_line(line)
        except BaseException:
            process.kill()  # Ctrl-C or an error in on_line: don't leave ffmpeg running
            raise
        finally:
            if timer:
                timer.cancel()
    return process.returncode, last
