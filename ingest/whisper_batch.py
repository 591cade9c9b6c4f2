"""Whisper over many short windows at once: WhisperX's design in openai-whisper.

whisper.transcribe walks the audio one 30-s window after another, each starting where the last
segment ended and conditioned on the text before it, so no two windows can be decoded together.
Here the silence gate's speech spans are cut at their quietest points into windows of at most
MAX_WINDOW_S, which need nothing from each other: their spectrograms go through the encoder as one batch,
whisper.decode steps all of them token by token in one batch (on a CPU, one decoding step costs
about the same for 8 windows as for one), and only the windows whose text is a repetition loop
or improbable are decoded again at higher temperatures, as whisper.transcribe would. What is
lost is the running context: no window is given the text before it (BENCHMARKS.md weighs the
word errors that costs). Word times come from Whisper's own alignment (whisper.timing), which
reuses each window's encoder output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.audio import SAMPLE_RATE
from ingest.silence import FRAME_S

HOP_LENGTH = 160  # samples per log-mel frame (whisper.audio's)
MAX_WINDOW_S = 25.0  # below the 30 s the encoder takes: tiny.en garbles more of the last seconds (BENCHMARKS.md)
MIN_WINDOW_S = 15.0  # a cut is looked for in the last MAX - MIN seconds of a window
FALLBACK_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)  # whisper.transcribe's, after 0.0
BEST_OF = 5  # samples per fallback temperature (whisper's CLI default)
# whisper.transcribe's thresholds for decoding again (ingest.transcribe's filter uses the same
# figures for another purpose: dropping segments that are not speech).
COMPRESSION_RATIO_THRESHOLD = 2.4
LOGPROB_THRESHOLD = -1.0
NO_SPEECH_THRESHOLD = 0.6


@dataclass(frozen=True)
class Window:
    """Samples `first`..`last` of one decoded stretch of audio, to transcribe on their own."""

    first: int
    last: int


def cut_windows(levels: np.ndarray, first: int, last: int) -> list[Window]:
    """Samples `first`..`last` (a speech span) as windows of at most MAX_WINDOW_S, cut where the
    sound is quietest (by `levels`, RMS per FRAME_S of the whole stretch) in the last
    MAX - MIN seconds before each limit, so a cut falls in a pause, not a word."""
    frame = int(FRAME_S * SAMPLE_RATE)
    longest, shortest = int(MAX_WINDOW_S * SAMPLE_RATE), int(MIN_WINDOW_S * SAMPLE_RATE)
    windows = []
    start = first
    while last - start > longest:
        low, high = (start + shortest) // frame, (start + longest) // frame  # frames wholly inside
        # The middle of the latest run of the quietest frames: windows stay long and few, and a
        # window neither starts nor ends right at a word.
        quiet = levels[low:high]
        end = len(quiet) - 1 - int(np.argmin(quiet[::-1]))
        begin = end
        while begin > 0 and quiet[begin - 1] <= quiet[end]:
            begin -= 1
        cut = int((low + (begin + end + 1) / 2) * frame)
        windows.append(Window(start, cut))
        start = cut
    windows.append(Window(start, last))
    return windows


@dataclass
class Decoded:
    """One window's segments as whisper.transcribe gives them (dicts with start, end, text,
    tokens, words and the window's figures), times from the window's start, and the seconds of
    the window they account for: what lies after `done_s` is to be decoded again, as its own
    window, as whisper.transcribe seeks to the last timestamp it trusts."""

    segments: list[dict]
    language: str
    done_s: float


def log_mel(model, audio: np.ndarray):
    """The log-mel spectrogram of a whole stretch of audio, as whisper.transcribe computes it (its
    level floor set by the stretch's loudest moment), to slice windows from."""
    import torch
    from whisper.audio import N_SAMPLES, log_mel_spectrogram

    return log_mel_spectrogram(torch.from_numpy(audio), model.dims.n_mels, padding=N_SAMPLES)


def decode_batch(model, mels: Sequence, language: str, device: str) -> list[Decoded]:
    """Each window's log-mel frames (at most 30 s, sliced from log_mel) transcribed on its own,
    all in one batch."""
    import torch
    from whisper.audio import N_FRAMES, pad_or_trim
    from whisper.tokenizer import get_tokenizer

    frames = [min(mel.shape[-1], N_FRAMES) for mel in mels]
    mels = torch.stack([pad_or_trim(mel, N_FRAMES) for mel in mels]).to(model.device)
    fp16 = device == "cuda"
    if fp16:
        mels = mels.half()  # as whisper.transcribe: the alignment below must see the encoder's input
    with torch.no_grad():
        features = model.encoder(mels)
    if not language:
        language = _detected_language(model, features[:1]) if model.is_multilingual else "en"
    tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages, language=language,
                              task="transcribe")
    results = _decode_with_fallback(model, features, language, fp16)
    remember = getattr(model.encoder, "remember", None)  # set by ingest.transcribe: alignment reuses features
    decoded = []
    for index, result in enumerate(results):
        segments, done_s = _segments(result, tokenizer, frames[index])
        if segments and getattr(model, "word_timing", False):
            from whisper.timing import add_word_timestamps

            if remember:
                remember(mels[index : index + 1], features[index : index + 1])
            add_word_timestamps(segments=segments, model=model, tokenizer=tokenizer, mel=mels[index],
                                num_frames=frames[index], last_speech_timestamp=0.0)
        decoded.append(Decoded(segments, language, done_s))
    return decoded


def _detected_language(model, features) -> str:
    _, probabilities = model.detect_language(features)
    return max(probabilities[0], key=probabilities[0].get)


def _decode_with_fallback(model, features, language: str, fp16: bool) -> list:
    """whisper.decode at temperature 0 for all windows, then again, hotter, for the ones whose
    text loops or is improbable, unless they are silence (whisper.transcribe's rule)."""
    import whisper

    options = dict(language=language, task="transcribe", fp16=fp16, without_timestamps=False)
    results = whisper.decode(model, features, whisper.DecodingOptions(temperature=0.0, **options))
    for temperature in FALLBACK_TEMPERATURES:
        again = [i for i, result in enumerate(results) if _needs_fallback(result)]
        if not again:
            break
        # One window at a time, as whisper.transcribe does: best_of samples of a batch of several
        # windows trip openai-whisper's attention (its cache is sized for the batch, not batch x best_of).
        hotter = whisper.DecodingOptions(temperature=temperature, best_of=BEST_OF, **options)
        for i in again:
            results[i] = whisper.decode(model, features[i : i + 1], hotter)[0]
    return results


def _needs_fallback(result) -> bool:
    improbable = result.avg_logprob < LOGPROB_THRESHOLD
    if result.no_speech_prob > NO_SPEECH_THRESHOLD and improbable:
        return False  # silence: no temperature will find words in it
    return result.compression_ratio > COMPRESSION_RATIO_THRESHOLD or improbable


def _segments(result, tokenizer, frames: int) -> tuple[list[dict], float]:
    """The result's tokens cut into segments between pairs of timestamp tokens, as
    whisper.transcribe cuts them, and the seconds they account for. As there, text after the
    last timestamp pair (the decoder stopped mid-sentence or lost its way) is dropped, to be
    decoded again from that timestamp; a window ending on a single timestamp is all done."""
    window_s = frames * HOP_LENGTH / SAMPLE_RATE
    tokens = list(result.tokens)  # text and timestamp tokens, without the start sequence and eot
    stamp = [token >= tokenizer.timestamp_begin for token in tokens]
    cuts = [i + 1 for i in range(len(tokens) - 1) if stamp[i] and stamp[i + 1]] + [len(tokens)]
    segments, begin = [], 0
    for cut in cuts:
        piece, first = tokens[begin:cut], begin
        begin = cut
        text_tokens = [token for token in piece if token < tokenizer.eot]
        if not text_tokens:
            continue
        start_s = _seconds(piece[0], tokenizer) if stamp[first] else 0.0
        end_s = _seconds(piece[-1], tokenizer) if stamp[cut - 1] else window_s
        segments.append({"seek": 0, "start": start_s, "end": max(min(end_s, window_s), start_s),
                         "text": tokenizer.decode(text_tokens), "tokens": piece,
                         "avg_logprob": result.avg_logprob, "compression_ratio": result.compression_ratio,
                         "no_speech_prob": result.no_speech_prob, "temperature": result.temperature})
    single_ending = len(tokens) >= 2 and stamp[-1] and not stamp[-2]
    if not segments or single_ending:
        return segments, window_s
    if not stamp[-1] and len(segments) > 1:  # an unclosed tail after closed segments
        segments.pop()
        return segments, segments[-1]["end"]
    return segments, (_seconds(tokens[-1], tokenizer) if stamp[-1] else window_s)


def _seconds(timestamp_token: int, tokenizer) -> float:
    return (timestamp_token - tokenizer.timestamp_begin) * 0.02  # each timestamp token is 20 ms
