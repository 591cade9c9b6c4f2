"""Audio for Whisper: decoded a window at a time, transcribed on one timeline."""

import numpy as np

from conftest import make_video
from ingest.audio import SAMPLE_RATE, audio_windows
from ingest.probe import probe
from ingest.transcribe import transcribe_windows
from rag.models import load_whisper


def test_audio_comes_in_windows_that_add_up_to_the_track(tmp_path):
    info = probe(str(make_video(tmp_path / "tone.mp4", 25, rate=5)))
    windows = list(audio_windows(info, window_s=10))
    assert [len(w) for w in windows[:2]] == [10 * SAMPLE_RATE] * 2 and len(windows) == 3
    whole = np.concatenate(windows)
    assert abs(len(whole) / SAMPLE_RATE - 25) < 0.1
    assert whole.dtype == np.float32 and windows[0].flags.writeable  # torch wants writable arrays
    assert 0.05 < np.abs(whole).max() <= 1.0  # the sine tone, not silence


def test_whisper_runs_window_by_window_on_one_timeline(whisper_checkpoint, monkeypatch):
    """Times run on from window to window: the second window's segments come after the first's.
    The random model's words are noise that the no-speech filter drops; kept here to see them."""
    monkeypatch.setattr("ingest.transcribe.is_speech", lambda segment: True)
    model = load_whisper(str(whisper_checkpoint), "cpu")
    audio = (0.1 * np.sin(np.linspace(0, 2000 * np.pi * 35, SAMPLE_RATE * 35))).astype(np.float32)
    windows = [audio[: 30 * SAMPLE_RATE], audio[30 * SAMPLE_RATE :]]
    done = []
    transcript, seconds = transcribe_windows(model, windows, "", "cpu", done.append)
    assert done == [30.0, 35.0] and seconds == 35.0
    assert transcript.source == "whisper" and transcript.language
    starts = [s.start_s for s in transcript.segments]
    assert starts and starts == sorted(starts)
    assert all(0 <= s.start_s <= s.end_s <= 35.5 for s in transcript.segments)
