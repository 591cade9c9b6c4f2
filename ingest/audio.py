"""Decode an audio track to what Whisper takes: 16 kHz mono float32, through imageio-ffmpeg.

whisper.load_audio shells out to an `ffmpeg` on PATH, which a fresh machine doesn't have. The
audio comes a window at a time from one ffmpeg process, so an hour of it never sits in memory
at once (230 MB as float32, and Whisper's spectrogram of it takes several times that).

Sample 0 is the media's start, the time frames are measured from. An audio stream that starts
later than the video (or has gaps) would otherwise lose that time: ffmpeg writes the samples it
has, so speech at 10 s in a track that starts at 9.98 s would be heard at 0.02 s. The
`aresample` filter fills the lead-in and any gap with silence instead.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator

import numpy as np

from ingest.ffmpeg import ffmpeg_exe, input_arg, last_error_line
from ingest.probe import MediaInfo
from rag.errors import IngestError

SAMPLE_RATE = 16000  # Hz, what Whisper's models were trained on
WINDOW_S = 300.0  # seconds of audio Whisper is given at a time (VIDRAG_AUDIO_WINDOW_S, for ingest)


def audio_windows(info: MediaInfo, window_s: float = WINDOW_S, seek_s: float = 0.0) -> Iterator[np.ndarray]:
    """The first audio stream as float32 samples in [-1, 1], `window_s` seconds at a time (the
    last window is shorter), from `seek_s` on. What decodes is kept if the stream breaks off;
    IngestError if nothing does."""
    stream = info.audio
    if stream is None:
        raise IngestError("no audio stream")
    # After -i: ffmpeg decodes from the start and drops what comes before, so the samples are
    # those a decode from the start gives (a seek before -i restarts the decoder mid-stream).
    seek = ["-ss", f"{seek_s:.6f}"] if seek_s else []
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", input_arg(info.path), *seek,
               "-map", f"0:{stream.index}", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
               # async=1 fills (or trims) where the timestamps jump; first_pts=0 fills the lead-in.
               "-af", "aresample=async=1:first_pts=0", "-f", "f32le", "-"]
    window_bytes = int(window_s * SAMPLE_RATE) * 4
    decoded = 0
    # stderr goes to a file: a pipe nobody reads could fill up and stall ffmpeg.
    with tempfile.TemporaryFile() as errors:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors) as process:
            try:
                while window := _read(process.stdout, window_bytes):
                    decoded += len(window)
                    yield np.frombuffer(window, dtype=np.float32)  # writable: it's a bytearray
            finally:
                if process.poll() is None:
                    process.kill()  # the caller stopped early, or failed
        if decoded == 0:
            errors.seek(0)
            message = last_error_line(errors.read().decode("utf-8", errors="replace"))
            raise IngestError(f"the audio track will not decode ({message})")


def audio_window(info: MediaInfo, start_s: float, length_s: float) -> np.ndarray:
    """`length_s` seconds of the first audio stream from `start_s` on (fewer at the end), decoded
    on their own: a piece of a long file, for a Ray worker (ingest/stages/transcript.py)."""
    windows = audio_windows(info, length_s, seek_s=start_s)
    try:
        return next(windows)
    except StopIteration:
        return np.zeros(0, np.float32)
    finally:
        windows.close()


def _read(pipe, size: int) -> bytearray:
    """Up to `size` bytes, fewer only at the end of the stream; whole float32 samples."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size and (count := pipe.readinto(view[filled:])):
        filled += count
    view.release()
    del buffer[filled - filled % 4 :]
    return buffer
