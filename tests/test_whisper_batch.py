"""Batched Whisper (ingest.whisper_batch): speech cut into windows of at most 25 s at its pauses,
decoded together, with word times. Real tiny.en and espeak-ng speech where words matter."""

import numpy as np
import pytest

from bench.speech import spoken_track
from ingest.audio import SAMPLE_RATE
from ingest.silence import FRAME_S, frame_levels
from ingest.transcribe import transcribe_windows
from ingest.whisper_batch import HOP_LENGTH, MAX_WINDOW_S, cut_windows, decode_batch, log_mel
from rag.models import load_whisper

# Passages 9 s apart, so a 75-s track must be cut several times, each time between two of them.
SENTENCES = ["The red fox jumped over the garden wall.", "Please water the tomatoes every morning.",
             "Our train leaves from platform nine.", "The library closes early on Sundays.",
             "A violin played softly in the hallway.", "Bring two blankets for the camping trip.",
             "The bakery sells fresh bread at dawn.", "Seven sailors painted the old lighthouse."]
PASSAGES = [(1.0 + 9.0 * i, text) for i, text in enumerate(SENTENCES)]


@pytest.fixture(scope="module")
def track(espeak):
    return spoken_track(PASSAGES, 75.0)


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c == " " else " " for c in text).split()


def test_windows_are_at_most_30_s_and_cut_at_the_quietest_point():
    """A 95-s span of sound with a dip every 7 s: each cut lands on a dip, the latest one that
    keeps the window within 25 s, and the windows cover the span end to end."""
    seconds = 95.0
    audio = np.full(int(seconds * SAMPLE_RATE), 0.1, dtype=np.float32)
    dips = [7.0 * k for k in range(1, 14)]
    for at in dips:
        audio[int(at * SAMPLE_RATE) : int((at + 0.3) * SAMPLE_RATE)] = 0.0
    levels = frame_levels(audio, SAMPLE_RATE)
    windows = cut_windows(levels, 0, len(audio))
    assert windows[0].first == 0 and windows[-1].last == len(audio)
    assert all(a.last == b.first for a, b in zip(windows, windows[1:], strict=False))
    assert all(w.last - w.first <= MAX_WINDOW_S * SAMPLE_RATE for w in windows)
    cuts_s = [w.last / SAMPLE_RATE for w in windows[:-1]]
    assert len(cuts_s) == 4
    for cut, expected in zip(cuts_s, [21.0, 42.0, 63.0, 84.0], strict=True):
        assert expected <= cut <= expected + 0.3 + FRAME_S, cuts_s


def test_a_span_within_30_s_is_one_window():
    levels = np.full(250, 0.1)
    assert [(w.first, w.last) for w in cut_windows(levels, 16000, 25 * SAMPLE_RATE)] == [(16000, 25 * SAMPLE_RATE)]


@pytest.mark.slow
def test_batched_words_and_times_match_the_script(tiny_en, track):
    """75 s of passages, cut into several windows decoded in one batch: about as many of the
    script's words come out as one window after another gives (tiny.en mishears espeak's voice
    either way), segments don't overlap, and each passage's segments start and end within 0.3 s
    of its sound."""
    audio, spans = track
    transcript, seconds = transcribe_windows(tiny_en, [audio], "en", "cpu", batch=8)
    one_by_one, _ = transcribe_windows(tiny_en, [audio], "en", "cpu", batch=1)
    assert 74.9 < seconds < 75.1 and transcript.language == "en"
    expected = _words(" ".join(SENTENCES))

    def matched(t) -> int:
        heard = _words(" ".join(s.text for s in t.segments))
        return sum(word in heard for word in expected)

    assert matched(transcript) >= min(matched(one_by_one) - 3, 0.9 * len(expected)), transcript.segments
    assert matched(transcript) >= 0.6 * len(expected)
    assert all(a.end_s <= b.start_s + 0.05 for a, b in zip(transcript.segments, transcript.segments[1:], strict=False))
    for (start, end), (_, text) in zip(spans, PASSAGES, strict=True):
        mine = [s for s in transcript.segments if s.end_s > start - 1 and s.start_s < end + 1]
        assert mine, f"nothing transcribed for {text!r}"
        assert abs(mine[0].start_s - start) < 0.3 and abs(mine[-1].end_s - end) < 0.3, (start, end, mine)
    assert [s.start_s for s in transcript.segments] == sorted(s.start_s for s in transcript.segments)


@pytest.mark.slow
def test_encoder_runs_once_per_batch_with_word_times(tiny_en, track):
    """Several windows: one encoder pass for all of them, shared with the word alignment of each."""
    audio, _ = track
    levels = frame_levels(audio, SAMPLE_RATE)
    mel = log_mel(tiny_en, audio)
    pieces = [mel[:, w.first // HOP_LENGTH : w.last // HOP_LENGTH] for w in cut_windows(levels, 0, len(audio))]
    assert len(pieces) >= 3
    from ingest.transcribe import _reuse_encoder_output

    _reuse_encoder_output(tiny_en)
    computed = []
    hook = tiny_en.encoder.blocks[0].register_forward_hook(lambda *_: computed.append(1))
    try:
        decoded = decode_batch(tiny_en, pieces, "en", "cpu")
    finally:
        hook.remove()
    assert len(computed) == 1
    assert all(part.segments and all(segment["words"] for segment in part.segments) for part in decoded)


@pytest.mark.slow
def test_batched_silence_never_reaches_whisper(tiny_en):
    """Two minutes of near-silence: no window is cut, the encoder never runs, nothing comes out."""
    noise = (np.random.default_rng(0).standard_normal(120 * SAMPLE_RATE) * 10 ** (-70 / 20)).astype(np.float32)
    computed = []
    hook = tiny_en.encoder.blocks[0].register_forward_hook(lambda *_: computed.append(1))
    try:
        transcript, seconds = transcribe_windows(tiny_en, [noise[: 60 * SAMPLE_RATE], noise[60 * SAMPLE_RATE :]],
                                                 "", "cpu", batch=8)
    finally:
        hook.remove()
    assert transcript.segments == () and computed == [] and seconds == 120.0


def test_random_multilingual_checkpoint_detects_a_language_in_a_batch(whisper_checkpoint):
    """No language given, a multilingual model: the first window's detected language holds for
    the batch, and it is one of Whisper's codes (random weights say any)."""
    from whisper.tokenizer import LANGUAGES

    model = load_whisper(str(whisper_checkpoint), "cpu")
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(12 * SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    mel = log_mel(model, tone)
    decoded = decode_batch(model, [mel[:, :1200], mel[:, :500]], "", "cpu")
    assert len(decoded) == 2 and decoded[0].language in LANGUAGES and decoded[0].language == decoded[1].language
