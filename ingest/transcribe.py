"""Speech to timestamped text with openai-whisper."""

from __future__ import annotations

import sys

import numpy as np

from rag.errors import IngestError, first_line
from rag.types import Segment, Transcript


def transcribe(model, audio: np.ndarray, language: str, device: str) -> Transcript:
    """Whisper's segments with their times, and the language it heard (or was told)."""
    try:
        result = model.transcribe(
            audio,
            language=language or None,
            fp16=device == "cuda",  # half precision is CPU-unsupported and only warns there
            # False shows whisper's own progress bar; None is silent (no terminal, or the app).
            verbose=False if sys.stderr.isatty() else None,
        )
    except (RuntimeError, ValueError) as e:  # e.g. NaN logits from a broken checkpoint, or CUDA out of memory
        raise IngestError(f"Whisper failed: {first_line(e)}") from e
    segments = tuple(
        Segment(float(s["start"]), float(s["end"]), s["text"].strip())
        for s in result["segments"]
        if s["text"].strip()
    )
    return Transcript(segments, result.get("language") or language, "whisper")
