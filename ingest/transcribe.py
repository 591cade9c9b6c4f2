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
from dataclasses import dataclass

import numpy as np

from ingest.audio import SAMPLE_RATE
from ingest.silence import FRAME_S, frame_levels, loud_frames, snap_to_sound, speech_spans
from ingest.whisper_batch import HOP_LENGTH, cut_windows, decode_batch, log_mel
from rag.errors import IngestError, first_line
from rag.types import Segment, Transcript, Word

PROMPT_CHARS = 200  # of the previous window's text, given to Whisper as context for the next
# A segment is dropped as "not speech" when Whisper both thinks the window holds no speech and is
# unsure of its words: on digital silence tiny.en writes " you" at no_speech_prob 0.95 and
# avg_logprob -0.7, which Whisper's own rule (logprob below -1.0) keeps.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -0.5
MAX_COMPRESSION_RATIO = 2.4  # gzip ratio above which a segment is a repetition loop (Whisper's threshold)
_WORDISH = re.compile(r"\w")  # " ." or "..." alone is not speech
MIN_REST_S = 1.0  # of sound left after Whisper's last trusted timestamp, to decode again


def whisper_language(model, language: str) -> str:
    """The language to tell Whisper: VIDRAG_WHISPER_LANGUAGE checked against what the model
    hears, before any audio reaches it ("" lets it detect). An unknown code or a non-English
    language for an English-only (.en) model is the user's setting to fix, in one line; Whisper
    would fail at its first window, or transcribe English sounds and label them German."""
    if not language:
        return ""
    from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

    code = language if language in LANGUAGES else TO_LANGUAGE_CODE.get(language)
    if code is None:
        raise IngestError(f"VIDRAG_WHISPER_LANGUAGE={language!r} is not a language Whisper knows: "
                          "give a code such as de, es or ja, or auto")
    if code != "en" and not model.is_multilingual:
        raise IngestError(f"VIDRAG_WHISPER_LANGUAGE={code}, but this Whisper model hears English only: "
                          "use a multilingual one (tiny, base, small, ...) or subtitles")
    return code


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
    old window's features. `encoder.remember(input, output)` stores a pair computed elsewhere (a
    batch's, in ingest.whisper_batch)."""
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
        remember(x, output)
        return output

    def remember(x, output) -> None:
        last[0] = (x.detach().clone(), output)

    encoder.forward = cached_forward
    encoder.remember = remember
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
    return Segment(start, end, segment["text"].strip(),
                   words=tuple(Word(float(w["start"]), float(w["end"]), w["word"]) for w in words))


def _placed(segment: Segment, start_s: float, end_s: float, offset_s: float, span_s: float) -> Segment:
    """A segment decoded from a stretch starting `span_s` into a window starting `offset_s` into
    the file, at its times in the file: `start_s`..`end_s` (in the window, snapped to the sound)
    plus `offset_s`, its words (times in the stretch) plus both."""
    shift_s = span_s + offset_s
    words = tuple(Word(w.start_s + shift_s, w.end_s + shift_s, w.text) for w in segment.words)
    return Segment(start_s + offset_s, end_s + offset_s, segment.text, words=words)


def transcribe_windows(model, windows: Iterable[np.ndarray], language: str, device: str,
                       on_window: Callable[[float], None] | None = None,
                       batch: int = 1) -> tuple[Transcript, float]:
    """Whisper over consecutive windows of audio, as if it were one: times run on from window to
    window, and the language heard in the first speech holds for the rest. Only the stretches
    with sound are given to Whisper (ingest.silence). With `batch` 1 each stretch is transcribed
    by whisper.transcribe, starting with the end of the previous one's text as context; above 1,
    stretches are cut into windows of at most 25 s decoded `batch` at a time (ingest.whisper_batch).
    Returns the transcript and the audio's seconds; `on_window` is told the seconds done as they are."""
    if batch > 1:
        return _transcribe_batched(model, windows, language, device, on_window, batch)
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
                segments.append(_placed(s, start_s, end_s, offset_s, span_s))
        offset_s += len(window) / SAMPLE_RATE
        if on_window:
            on_window(offset_s)
    return Transcript(tuple(segments), language, "whisper"), offset_s


def _transcribe_batched(model, windows, language, device, on_window, batch) -> tuple[Transcript, float]:
    _reuse_encoder_output(model)
    segments: list[Segment] = []
    pending: list[_Piece] = []

    def decode() -> None:
        nonlocal language
        try:
            decoded = decode_batch(model, [piece.mel for piece in pending], language, device)
        except (RuntimeError, ValueError) as e:  # as in transcribe()
            raise IngestError(f"Whisper failed: {first_line(e)}") from e
        done, pending[:] = list(pending), []
        for piece, part in zip(done, decoded, strict=True):
            language = language or part.language
            kept_s = piece.after_s
            for s in (_clipped(s) for s in part.segments if is_speech(s)):
                start_s, end_s = snap_to_sound(s.start_s + piece.start_s, s.end_s + piece.start_s, piece.loud)
                if start_s < piece.after_s:
                    continue  # decoded again from a timestamp inside words already kept
                segments.append(_placed(s, start_s, end_s, piece.offset_s, piece.start_s))
                kept_s = max(kept_s, end_s)
            rest = piece.rest(part.done_s, kept_s)
            if rest:
                pending.append(rest)  # decoded again with the next batch
        if on_window:
            on_window(max(piece.offset_s + piece.end_s for piece in done))

    offset_s = 0.0
    for window in windows:
        levels = frame_levels(window, SAMPLE_RATE)
        loud = loud_frames(window, SAMPLE_RATE, levels)
        mel = None  # computed once per window, when it has sound
        for first, last in speech_spans(loud, SAMPLE_RATE, len(window)):
            mel = log_mel(model, window) if mel is None else mel
            for cut in cut_windows(levels, first, last):
                pending.append(_Piece(mel[:, cut.first // HOP_LENGTH : cut.last // HOP_LENGTH],
                                      cut.first / SAMPLE_RATE, offset_s, loud))
                if len(pending) >= batch:
                    decode()
        offset_s += len(window) / SAMPLE_RATE
        if on_window and not pending:
            on_window(offset_s)
    while pending:
        decode()
    segments.sort(key=lambda s: s.start_s)  # a piece decoded again comes in after later ones
    return Transcript(tuple(segments), language, "whisper"), offset_s


@dataclass
class _Piece:
    """A window's log-mel frames, where they start in their stretch of audio, where that stretch
    starts in the file, and the stretch's loud frames (ingest.silence)."""

    mel: object
    start_s: float
    offset_s: float
    loud: np.ndarray
    after_s: float = 0.0  # segments starting before this (text already kept) are dropped

    @property
    def end_s(self) -> float:
        return self.start_s + self.mel.shape[-1] * HOP_LENGTH / SAMPLE_RATE

    def rest(self, done_s: float, kept_s: float) -> _Piece | None:
        """What follows the first `done_s` seconds, if Whisper stopped early with speech left:
        at least MIN_REST_S of loud frames after a second or more of progress."""
        if done_s < MIN_REST_S:
            return None
        first = int(round(done_s * SAMPLE_RATE / HOP_LENGTH))
        since, until = int((self.start_s + done_s) / FRAME_S), int(self.end_s / FRAME_S)
        if first >= self.mel.shape[-1] or self.loud[since:until].sum() * FRAME_S < MIN_REST_S:
            return None
        return _Piece(self.mel[:, first:], self.start_s + first * HOP_LENGTH / SAMPLE_RATE, self.offset_s, self.loud,
                      kept_s)
