"""Decode an audio track to what Whisper takes: 16 kHz mono float32, through imageio-ffmpeg.

whisper.load_audio shells out to an `ffmpeg` on PATH, which a fresh machine doesn't have.
"""

from __future__ import annotations

import numpy as np

from ingest.ffmpeg import input_arg, run_ffmpeg
from ingest.probe import MediaInfo
from rag.errors import IngestError

SAMPLE_RATE = 16000  # Hz, what Whisper's models were trained on


def decode_audio(info: MediaInfo) -> np.ndarray:
    """The first audio stream as float32 samples in [-1, 1]. Raises IngestError if it won't decode."""
    stream = info.audio
    if stream is None:
        raise IngestError("no audio stream")
    result = run_ffmpeg(
        ["-i", input_arg(info.path), "-map", f"0:{stream.index}", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
         "-f", "f32le", "-loglevel", "error", "-"],
        what="the audio track will not decode",
        check=False,
    )
    samples = np.frombuffer(result.stdout, dtype=np.float32).copy()  # writable, as torch wants
    if samples.size == 0:
        raise IngestError(f"the audio track will not decode ({result.stderr.strip().splitlines()[-1:] or 'empty'})")
    return samples
