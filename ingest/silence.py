"""Find where there is sound worth transcribing: an energy (RMS) gate over short frames.

Whisper invents words in silence ("you", "." every few seconds) and spends as long on a silent
window as on speech. Stretches that stay below the gate for MIN_SILENCE_S are not given to
Whisper at all, so a silent hour costs only its decoding. The same gate tightens segment times:
Whisper's first word often starts a few tenths early, in the quiet before it. Chosen over a VAD
model (silero-vad): see BENCHMARKS.md, "Silence".
"""

from __future__ import annotations

import numpy as np

FRAME_S = 0.1  # seconds of audio per energy measurement
GATE_DBFS = -50.0  # frames quieter than this (RMS, dB below full scale) count as silence
MIN_SILENCE_S = 10.0  # shorter pauses stay inside a span: Whisper handles them and keeps its context
PAD_S = 0.5  # seconds kept around each span, so the first and last syllables are not cut


def frame_levels(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The RMS of each FRAME_S of `audio` (the last frame may be short)."""
    frame = int(FRAME_S * sample_rate)
    count = len(audio) // frame + (len(audio) % frame > 0)
    padded = np.zeros(count * frame, dtype=np.float32)
    padded[: len(audio)] = audio
    return np.sqrt(np.mean(np.square(padded.reshape(count, frame), dtype=np.float64), axis=1))


def loud_frames(audio: np.ndarray, sample_rate: int, levels: np.ndarray | None = None) -> np.ndarray:
    """One flag per FRAME_S of `audio`: louder than the gate (`levels`: its frame_levels, if known)."""
    return (frame_levels(audio, sample_rate) if levels is None else levels) > 10 ** (GATE_DBFS / 20)


def speech_spans(loud: np.ndarray, sample_rate: int, length: int) -> list[tuple[int, int]]:
    """The (start, end) sample ranges of `length` samples to transcribe, given their loud_frames:
    every loud frame, with pauses shorter than MIN_SILENCE_S bridged and PAD_S added around.
    Empty for silence."""
    frames = np.flatnonzero(loud)
    if len(frames) == 0:
        return []
    frame = int(FRAME_S * sample_rate)
    breaks = np.flatnonzero(np.diff(frames) > MIN_SILENCE_S / FRAME_S)
    firsts = np.concatenate(([frames[0]], frames[breaks + 1]))
    lasts = np.concatenate((frames[breaks], [frames[-1]]))
    pad = int(PAD_S * sample_rate)
    return [(max(0, int(a) * frame - pad), min(length, (int(b) + 1) * frame + pad))
            for a, b in zip(firsts, lasts, strict=True)]


def snap_to_sound(start_s: float, end_s: float, loud: np.ndarray) -> tuple[float, float]:
    """`start_s`..`end_s` narrowed to the loud frames inside it: a start in the quiet before the
    speech moves to where the sound begins, an end in the quiet after it to where it stops.
    Unchanged when no loud frame lies inside."""
    first, last = int(start_s / FRAME_S), min(int(np.ceil(end_s / FRAME_S)), len(loud))
    inside = np.flatnonzero(loud[first:last]) + first
    if len(inside) == 0:
        return start_s, end_s
    return max(start_s, float(inside[0]) * FRAME_S), min(end_s, float(inside[-1] + 1) * FRAME_S)
