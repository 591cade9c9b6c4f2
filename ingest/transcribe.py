"""Speech to timestamped text with openai-whisper.

Segments are clipped to their first and last word (Whisper's word timestamps, aligned with the
model's alignment heads, where the model has them: see rag.models), so a segment starts when
its speech does, not in the silence before it. Both ends are then narrowed to where the sound
is (ingest.silence.snap_to_sound), which the word times miss by a few tenths of a second. Word
times themselves are not stored: search narrows a hit to a segment, and a segment's clipped
start is where the player should begin.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable

import numpy as np

from ingest.audio import SAMPLE_RATE
from ingest.silence import loud_frames, snap_to_sound, speech_spans
from rag.errors import IngestError, first_line
from rag.types import Segment, Transcript

PROMPT_CHARS = 200  # of the previous window's text, given to Whisper as context for the next
# A segment is dropped as "not speech" when Whisper both thinks the window holds no speech and is
# unsure of its words: on digital silence tiny.en writes " you" at no_speech_prob 0.95 and
# avg_logprob -0.7, which Whisper's own rule (logprob below -1.0) keeps.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -0.5
MAX_COMPRESSION_RATIO = 2.4  # gzip ratio above which a segment is a repetition loop (Whisper's threshold)
_WORDISH = re.compile(r"\w")  # " ." or "..." alone is not speech


def transcribe(model, audio: np.ndarray, language: str, device: str, prompt: str = "") -> Transcript:
    """Whisper's segments with their times, clipped to their words, and the language it heard
    (or was told). Segments that are not speech are dropped (see is_speech)."""
    _reuse_encoder_output(model)
    try:
        result = model.transcribe(
            audio,
            language=language or None,
            initial_prompt=prompt or None,
            word_timestamps=getattr(model, "word_timing", False),  # set by rag.models.load_whisper
            fp16=device == "cuda",  # half precision is CPU-unsupported and only warns there
            # False shows whisper's own progress bar; None is silent (no terminal, or the app).
            verbose=False if sys.stderr.isatty() else None,
        )
    except (RuntimeError, ValueError) as e:  # e.g. NaN logits from a broken checkpoint, or CUDA out of memory
        raise IngestError(f"Whisper failed: {first_line(e)}") from e
    segments = tuple(_clipped(s) for s in result["segments"] if is_speech(s))
    return Transcript(segments, result.get("language") or language, "whisper")


def _reuse_encoder_output(model) -> None:
    """Make the model's audio encoder give back its last output when it gets the same input again.
    openai-whisper encodes each 30-s window once to decode it, once more per temperature fallback,
    and once more to align words (find_alignment runs the whole model); on a CPU the encoder is
    most of tiny's and base's time. The input is compared by value, so a new window never gets an
    old window's features."""
    encoder = model.encoder
    if getattr(encoder, "reuses_last_output", False):
        return
    forward = encoder.forward
    last: list = [None]  # one (input copy, output) pair, read and replaced whole (thread-safe)

    def cached_forward(x):
        import torch

        seen = last[0]
        if seen is not None and seen[0].shape == x.shape and seen[0].dtype == x.dtype and torch.equal(seen[0], x):
            return seen[1]
        output = forward(x)
        last[0] = (x.detach().clone(), output)
        return output

    encoder.forward = cached_forward
    encoder.reuses_last_output = True


def is_speech(segment: dict) -> bool:
    """Whether a Whisper segment holds words someone said, judged from Whisper's own figures."""
    if not _WORDISH.search(segment["text"]):
        return False
    if segment.get("compression_ratio", 0.0) > MAX_COMPRESSION_RATIO:
        return False
    return not (segment.get("no_speech_prob", 0.0) > NO_SPEECH_PROB
                and segment.get("avg_logprob", 0.0) < NO_SPEECH_LOGPROB)


def _clipped(segment: dict) -> Segment:
    """The segment from its first word's start to its last word's end, when it has words."""
    start, end = float(segment["start"]), float(segment["end"])
    words = segment.get("words") or []
    if words:
        start, end = float(words[0]["start"]), max(float(words[-1]["end"]), float(words[0]["start"]))
    return Segment(start, end, segment["text"].strip())


def transcribe_windows(model, windows: Iterable[np.ndarray], language: str, device: str,
                       on_window: Callable[[float], None] | None = None) -> tuple[Transcript, float]:
    """Whisper over consecutive windows of audio, as if it were one: times run on from window to
    window, the language heard in the first speech holds for the rest, and each stretch starts
    with the end of the previous one's text as context. Only the stretches with sound are given
    to Whisper (ingest.silence). Returns the transcript and the audio's seconds; `on_window` is
    told the seconds done after each window."""
    segments: list[Segment] = []
    offset_s = 0.0
    for window in windows:
        loud = loud_frames(window, SAMPLE_RATE)
        for first, last in speech_spans(loud, SAMPLE_RATE, len(window)):
            context = " ".join(s.text for s in segments[-5:])[-PROMPT_CHARS:]
            part = transcribe(model, window[first:last], language, device, prompt=context)
            language = language or part.language
            span_s = first / SAMPLE_RATE
            for s in part.segments:
                start_s, end_s = snap_to_sound(s.start_s + span_s, s.end_s + span_s, loud)
                segments.append(Segment(start_s + offset_s, end_s + offset_s, s.text))
        offset_s += len(window) / SAMPLE_RATE
        if on_window:
            on_window(offset_s)
    return Transcript(tuple(segments), language, "whisper"), offset_s
