"""Running the ffmpeg binary that imageio-ffmpeg ships. No system ffmpeg is needed or used."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from rag.errors import IngestError
from rag.ffmpeg import ffmpeg_exe, input_arg  # noqa: F401  (shared with answers' clip frames)


def run_ffmpeg(args: Sequence[str], what: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ffmpeg with `args`; on failure raise IngestError naming `what` with ffmpeg's own
    last error line. stdout is returned as bytes, stderr as text."""
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    result = subprocess.run(command, capture_output=True)
    result.stderr = result.stderr.decode("utf-8", errors="replace")
    if check and result.returncode != 0:
        raise IngestError(f"{what}: {last_error_line(result.stderr)}")
    return result


def run_ffmpeg_lines(args: Sequence[str], on_line: Callable[[str], None]) -> tuple[int, str]:
    """Run ffmpeg, handing each stderr line to `on_line` as it comes (for progress).
    Returns the exit code and the last line of stderr."""
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    last = ""
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        try:
            for raw in process.stderr:
                line = raw.decode("utf-8", errors="replace").rstrip()
                if line:
                    last = line
                    on_line(line)
        except BaseException:
            process.kill()  # Ctrl-C or an error in on_line: don't leave ffmpeg running
            raise
    return process.returncode, last


def last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg failed without a message"
