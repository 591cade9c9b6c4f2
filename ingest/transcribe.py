"""Speech to timestamped text with openai-whisper."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

import numpy as np

from ingest.audio import SAMPLE_RATE
from rag.errors import IngestError, first_line
from rag.types import Segment, Transcript

PROMPT_CHARS = 200  # of the previous window's text, given to Whisper as context for the next


def transcribe(model, audio: np.ndarray, language: str, device: str, prompt: str = "") -> Transcript:
    """Whisper's segments with their times, and the language it heard (or was told)."""
    try:
        result = model.transcribe(
            audio,
            language=language or None,
            initial_prompt=prompt or None,
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


def transcribe_windows(model, windows: Iterable[np.ndarray], language: str, device: str,
                       on_window: Callable[[float], None] | None = None) -> tuple[Transcript, float]:
    """Whisper over consecutive windows of audio, as if it were one: times run on from window to
    window, the language heard in the first holds for the rest, and each window starts with the
    end of the previous one's text as context. Returns the transcript and the audio's seconds;
    `on_window` is told the seconds done after each window."""
    segments: list[Segment] = []
    offset_s = 0.0
    for window in windows:
        context = " ".join(s.text for s in segments[-5:])[-PROMPT_CHARS:]
        part = transcribe(model, window, language, device, prompt=context)
        language = language or part.language
        segments.extend(Segment(s.start_s + offset_s, s.end_s + offset_s, s.text) for s in part.segments)
        offset_s += len(window) / SAMPLE_RATE
        if on_window:
            on_window(offset_s)
    return Transcript(tuple(segments), language, "whisper"), offset_s
