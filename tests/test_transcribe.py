"""Whisper transcripts: word-clipped segment times, alignment heads from the checkpoint, silence
skipped, late audio on the video's clock. Real speech uses the real tiny.en and espeak-ng."""

import base64
import gzip

import numpy as np
import pytest

from bench.speech import spoken_track, write_media
from conftest import REAL_WHISPER, SHARED_MEDIA
from ingest.audio import SAMPLE_RATE, audio_windows
from ingest.probe import probe
from ingest.silence import loud_frames, snap_to_sound, speech_spans
from ingest.transcribe import is_speech, transcribe, transcribe_windows
from rag.models import load_whisper

PASSAGES = [(4.0, "The red fox jumped over the garden wall."), (17.0, "Please water the tomatoes every morning.")]


def _words(transcript) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c == " " else " " for c in
                   " ".join(s.text for s in transcript.segments)).split()


def test_real_checkpoint_gets_its_alignment_heads(tiny_en):
    """The heads stored in the checkpoint are set, not whisper's default (half the decoder)."""
    import torch

    stored = torch.load(REAL_WHISPER, weights_only=True)["alignment_heads_b85"]
    expected = np.frombuffer(gzip.decompress(base64.b85decode(stored)), dtype=bool)
    heads = tiny_en.alignment_heads.to_dense().numpy().ravel()
    assert heads.tolist() == expected.tolist()
    assert heads.sum() < heads.size // 2  # the default would be every head of layers 2 and 3
    assert tiny_en.word_timing is True


def test_random_checkpoint_without_heads_transcribes_without_word_timing(whisper_checkpoint):
    """A checkpoint file with no alignment heads: word timing is off (whisper's default heads fit
    no model trained without them)."""
    model = load_whisper(str(whisper_checkpoint), "cpu")
    assert model.word_timing is False  # test_audio and test_models transcribe with it


@pytest.mark.slow
def test_jfk_gives_its_words(tiny_en):
    info = probe(str(SHARED_MEDIA / "jfk.flac"))
    transcript, seconds = transcribe_windows(tiny_en, audio_windows(info), "", "cpu")
    assert transcript.language == "en" and 10.5 < seconds < 11.5
    assert _words(transcript) == ("and so my fellow americans ask not what your country can do for you "
                                  "ask what you can do for your country").split()


@pytest.mark.slow
def test_segments_start_and_end_with_their_speech(tiny_en, espeak):
    """Each passage's segments lie within its sound (0.3 s of slack), not in the silence around."""
    audio, spans = spoken_track(PASSAGES, 30.0)
    transcript, _ = transcribe_windows(tiny_en, [audio], "en", "cpu")
    assert {"fox", "garden", "please", "water"} <= set(_words(transcript))
    for (start, end), (_, text) in zip(spans, PASSAGES, strict=True):
        mine = [s for s in transcript.segments if s.end_s > start - 1 and s.start_s < end + 1]
        assert mine, f"nothing transcribed for {text!r}"
        assert abs(mine[0].start_s - start) < 0.3 and abs(mine[-1].end_s - end) < 0.3, (start, end, mine)


@pytest.mark.slow
def test_audio_that_starts_late_keeps_the_video_clock(tiny_en, espeak, tmp_path):
    """Audio stream starting 9.98 s into the video: the speech is timed where it is heard."""
    audio, spans = spoken_track(PASSAGES[:1], 8.0)
    video = write_media(audio, tmp_path / "late.mp4", video=True, audio_delay_s=9.98)
    transcript, _ = transcribe_windows(tiny_en, audio_windows(probe(str(video))), "en", "cpu")
    start, end = spans[0][0] + 9.98, spans[0][1] + 9.98
    assert "fox" in _words(transcript)
    assert abs(transcript.segments[0].start_s - start) < 0.4 and abs(transcript.segments[-1].end_s - end) < 0.4


def test_late_audio_stream_is_padded_to_the_media_start(tmp_path, espeak):
    """Sample 0 of the decoded audio is the media's start, not the audio stream's."""
    audio, spans = spoken_track([(1.0, "hello")], 3.0)
    video = write_media(audio, tmp_path / "late.mkv", video=True, audio_delay_s=5.0)
    decoded = np.concatenate(list(audio_windows(probe(str(video)))))
    first_sound = np.flatnonzero(np.abs(decoded) > 0.01)[0] / SAMPLE_RATE
    assert abs(first_sound - (spans[0][0] + 5.0)) < 0.1
    assert abs(len(decoded) / SAMPLE_RATE - 8.0) < 0.1


@pytest.mark.slow
def test_silence_costs_no_whisper_and_gives_no_text(tiny_en, tmp_path):
    """Two minutes of near-silence (noise at -70 dBFS): Whisper never runs and nothing is indexed.
    Whisper itself writes " you" and "." on such audio."""
    noise = (np.random.default_rng(0).standard_normal(120 * SAMPLE_RATE) * 10 ** (-70 / 20)).astype(np.float32)
    silent = write_media(noise, tmp_path / "silent.m4a")
    calls = []
    run = tiny_en.transcribe
    tiny_en.transcribe = lambda *a, **k: calls.append(1) or run(*a, **k)
    try:
        transcript, seconds = transcribe_windows(tiny_en, audio_windows(probe(str(silent)), window_s=60), "", "cpu")
    finally:
        del tiny_en.transcribe
    assert transcript.segments == () and calls == [] and 119 < seconds < 121


@pytest.mark.slow
def test_encoder_runs_once_per_window_with_word_times(tiny_en, espeak):
    """Decoding and word alignment share one encoder pass (whisper alone runs it twice)."""
    audio, _ = spoken_track([(0.5, "The red fox jumped over the garden wall.")], 4.0)
    computed = []
    hook = tiny_en.encoder.blocks[0].register_forward_hook(lambda *_: computed.append(1))
    try:
        transcript = transcribe(tiny_en, audio, "en", "cpu")
    finally:
        hook.remove()
    assert "fox" in _words(transcript) and len(computed) == 1


def test_spans_skip_long_silence_and_snap_times_to_sound():
    """Sound at 2-3 s and 30-31 s: two spans (the 27 s pause is skipped), padded by half a second;
    a segment Whisper starts at 1.6 s in the quiet is moved to 2.0 s."""
    audio = np.zeros(40 * SAMPLE_RATE, dtype=np.float32)
    for at in (2, 30):
        audio[at * SAMPLE_RATE : (at + 1) * SAMPLE_RATE] = 0.1
    loud = loud_frames(audio, SAMPLE_RATE)
    assert speech_spans(loud, SAMPLE_RATE, len(audio)) == [(int(1.5 * SAMPLE_RATE), int(3.5 * SAMPLE_RATE)),
                                                         (int(29.5 * SAMPLE_RATE), int(31.5 * SAMPLE_RATE))]
    assert snap_to_sound(1.6, 3.4, loud) == pytest.approx((2.0, 3.0))
    assert snap_to_sound(10.0, 12.0, loud) == (10.0, 12.0)  # nothing loud inside: left alone
    assert speech_spans(loud_frames(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE), SAMPLE_RATE, SAMPLE_RATE) == []


@pytest.mark.parametrize("segment, expected", [
    (dict(text=" you", no_speech_prob=0.95, avg_logprob=-0.70, compression_ratio=0.27), False),  # tiny.en on silence
    (dict(text=" .", no_speech_prob=0.40, avg_logprob=-0.41, compression_ratio=1.58), False),  # tiny.en on faint noise
    (dict(text=" ask not", no_speech_prob=0.02, avg_logprob=-0.20, compression_ratio=1.1), True),
    (dict(text=" quiet words", no_speech_prob=0.7, avg_logprob=-0.3, compression_ratio=1.2), True),
    (dict(text=" la la la la la la la la la la la la", no_speech_prob=0.1, avg_logprob=-0.3,
          compression_ratio=3.1), False),
])
def test_segments_whisper_marks_as_no_speech_are_dropped(segment, expected):
    assert is_speech(segment) is expected
