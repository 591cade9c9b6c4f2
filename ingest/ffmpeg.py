"""Running the ffmpeg binary that imageio-ffmpeg ships. No system ffmpeg is needed or used."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from rag.errors import IngestError
from rag.ffmpeg import ffmpeg_exe, input_arg, run_ffmpeg_lines  # noqa: F401  (shared with answers)


def run_ffmpeg(args: Sequence[str], what: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ffmpeg with `args`; on failure raise IngestError naming `what` with ffmpeg's own
    last error line. stdout is returned as bytes, stderr as text."""
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    result = subprocess.run(command, capture_output=True)
    result.stderr = result.stderr.decode("utf-8", errors="replace")
    if check and result.returncode != 0:
        raise IngestError(f"{what}: {last_error_line(result.stderr)}")
    return result


def last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg failed without a message"
