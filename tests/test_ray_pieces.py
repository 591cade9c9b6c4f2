"""One long file over a real local Ray (issue 23): its transcription windows and frame batches run
as pieces on the workers at once, and a worker killed in the middle of it (SIGKILL) is started
again and the file's stages rerun. The video comes out once, as in-process ingest makes it: the
same words at the same times, the same frames and frame vectors, no leftover rows or files."""

from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_WHISPER, computing_ray_worker

pytestmark = pytest.mark.slow
SLOT_S = 12.0  # each sentence alone in a slot this long, the piece length: the cuts fall in silence
# Words tiny.en hears at once: on one it is unsure of, Whisper falls back to sampling, and two
# runs of the same audio differ (in-process as well).
SENTENCES = ["The museum opens at nine on weekdays.", "The ferry leaves the harbour at seven.",
             "The library closes early on Sundays."]


@pytest.fixture
def long_talk(tmp_path, espeak):
    pytest.importorskip("ray", reason="Ray is not installed (requirements-ray.txt; make test installs it)")
    if not REAL_WHISPER.is_file():
        pytest.skip(f"the real Whisper tiny.en is not at {REAL_WHISPER}")
    from bench.speech import say, write_media

    slots = []
    for sentence in SENTENCES:
        spoken = say(sentence)
        slot = np.zeros(int(SLOT_S * 16000), np.float32)
        slot[8000 : 8000 + len(spoken)] = spoken
        slots.append(slot)
    return write_media(np.concatenate(slots), tmp_path / "ferry.mp4", video=True)


def _words(transcript) -> list[str]:
    return re.findall(r"[a-z']+", " ".join(s.text for s in transcript).lower())


def test_a_long_file_in_pieces_survives_a_killed_worker_and_comes_out_as_in_process(settings, long_talk, tmp_path,
                                                                                    monkeypatch):
    from ingest.distributed import RayWorkers
    from ingest.pipeline import Ingestor

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    settings = settings.model_copy(update={"whisper_model": str(REAL_WHISPER), "whisper_language": "en",
                                           "describe": "off", "summarize": "off", "frame_fps": 2.0,
                                           "audio_window_s": SLOT_S})
    here = Ingestor(settings.model_copy(update={"data_dir": tmp_path / "here"}))
    expected = here.add(long_talk)
    assert expected.pieces == 0
    expected_segments = here.store.video_text(expected.video.id).said
    expected_frames = _frame_vectors(here.store)
    expected_rows = here.store.count_rows(expected.video.id)
    here.store.close()

    workers = RayWorkers(settings, "local", 2)
    killed = []
    killer = threading.Thread(target=lambda: killed.append(os.kill(computing_ray_worker(), signal.SIGKILL)),
                              daemon=True)
    killer.start()
    try:
        ingestor = Ingestor(settings, workers=workers)
        result = ingestor.add(long_talk)
    finally:
        workers.close()
    killer.join()
    assert killed, "no Ray worker was seen running the stages"
    video = result.video
    assert result.status == "added" and ingestor.store.count_rows(video.id) == expected_rows  # once, not twice
    stored = sorted(p.name for p in settings.videos_dir.glob(f"{video.id}*"))
    assert stored == [Path(video.file).name]  # no .partial copy
    assert len(list((settings.frames_dir / video.id).iterdir())) == video.frames
    # 3 windows of audio and 3 batches of frames (over 64 frames, 32 a batch)
    assert video.frames == expected.video.frames > 64 and result.pieces == 6
    assert (video.id, video.duration_s, video.language) == (expected.video.id, expected.video.duration_s, "en")
    segments = ingestor.store.video_text(video.id).said
    assert _words(segments) == _words(expected_segments) and len(_words(segments)) >= 15
    assert len(segments) == len(expected_segments)
    assert all(abs(a.start_s - b.start_s) < 0.3 for a, b in zip(segments, expected_segments, strict=True))
    frames = _frame_vectors(ingestor.store)
    assert frames.keys() == expected_frames.keys()
    assert all(np.allclose(frames[k], expected_frames[k], atol=1e-5) for k in frames)


def _frame_vectors(store) -> dict:
    rows = store.client.query("vidrag_images", filter='id != ""', output_fields=["id", "vector"], limit=1000)
    return {r["id"]: np.asarray(r["vector"]) for r in rows}
