"""Ingest over a real local Ray (issue 23): `vidrag add --ray local` starts Ray on 127.0.0.1 with
two workers, and the library it builds equals the one in-process ingest builds; a bad file fails
alone, with the same line. One long file runs in pieces on the workers, survives a worker killed
mid-file (SIGKILL) and comes out once, as in-process; a cluster that goes away under the
server's queue fails the job cleanly and the job runs again once the cluster is back.

All in one module: the tests run one after another on one test process (xdist's loadscope),
never two Rays of these tests at once."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_WHISPER, cli_runner, computing_ray_worker, make_video, write_srt

pytestmark = pytest.mark.slow

CUES = [(1.0, 4.5, "The lighthouse keeper climbs the stairs."), (5.0, 9.0, "A storm is coming in from the sea.")]


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_env, espeak):
    pytest.importorskip("ray", reason="Ray is not installed (requirements-ray.txt; make test installs it)")
    if not REAL_WHISPER.is_file():
        pytest.skip(f"the real Whisper tiny.en is not at {REAL_WHISPER}")
    from bench.speech import say, write_media

    source = tmp_path_factory.mktemp("ray-sources")
    clip = make_video(source / "lighthouse.mp4", 10, audio=False, size="160x120", rate=5)
    write_srt(source / "lighthouse.srt", CUES)
    speech = np.concatenate([np.zeros(16000, np.float32), say("The museum opens at nine on weekdays."),
                             np.zeros(16000, np.float32)])
    talk = write_media(speech, source / "talk.mp4", video=True)
    audio = write_media(say("Children under twelve get in for free."), source / "free.m4a")
    bad = source / "notes.mp4"
    bad.write_text("not a video\n")
    files = [str(p) for p in (clip, talk, audio, bad)]
    env = {**model_env, "VIDRAG_WHISPER_MODEL": str(REAL_WHISPER), "VIDRAG_WHISPER_LANGUAGE": "en",
           "VIDRAG_DESCRIBE": "off", "VIDRAG_SUMMARIZE": "off", "RAY_AUTH_MODE": "disabled"}
    runs = {}
    for how, extra in (("here", []), ("ray", ["--ray", "local"])):
        folder = tmp_path_factory.mktemp(f"library-{how}")
        run = cli_runner(folder, env)
        result = run("add", *extra, *files)
        runs[how] = (folder, run, result)
    return runs


def _listed(run) -> list[dict]:
    videos = json.loads(run("list", "--json", check=True).stdout)
    for video in videos:
        video.pop("created")
        video.pop("file")
    return sorted(videos, key=lambda v: v["id"])


def test_a_library_built_through_ray_equals_one_built_here(built):
    (_, here, _), (_, ray, _) = built["here"], built["ray"]
    listed = _listed(here)
    assert len(listed) == 3 and listed == _listed(ray)  # ids, durations, frames, chunks, speakers...
    for video in listed:
        transcript = [video["id"], "--format", "json"]
        assert here("transcript", *transcript, check=True).stdout == ray("transcript", *transcript, check=True).stdout
    assert {v["name"]: v["transcript_source"] for v in listed}["lighthouse.mp4"] == "sidecar:lighthouse.srt"


def test_vectors_are_equal_within_float_tolerance(built, model_env, monkeypatch):
    from rag.settings import Settings
    from rag.store import Store

    def vectors(folder):
        store = Store(Settings(_env_file=None, data_dir=folder / "data"))
        try:
            rows = store.client.query("vidrag_text", filter='id != ""', output_fields=["id", "dense"], limit=1000)
            frames = store.client.query("vidrag_images", filter='id != ""', output_fields=["id", "vector"], limit=1000)
        finally:
            store.close()
        return ({r["id"]: np.asarray(r["dense"]) for r in rows}, {r["id"]: np.asarray(r["vector"]) for r in frames})

    (text_here, frames_here), (text_ray, frames_ray) = vectors(built["here"][0]), vectors(built["ray"][0])
    assert text_here and frames_here
    assert text_here.keys() == text_ray.keys() and frames_here.keys() == frames_ray.keys()
    assert all(np.allclose(text_here[k], text_ray[k], atol=1e-5) for k in text_here)
    assert all(np.allclose(frames_here[k], frames_ray[k], atol=1e-5) for k in frames_here)


def test_a_bad_file_fails_alone_with_the_same_line(built):
    (_, _, here), (_, _, ray) = built["here"], built["ray"]
    assert here.returncode == ray.returncode == 1
    line = [x for x in here.stderr.splitlines() if x.startswith("error:")]
    assert line == [x for x in ray.stderr.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and line[0].startswith("error: notes.mp4 is not a video or audio file")
    assert "Traceback" not in ray.stderr
    assert ray.stdout.count(": added,") == 3
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


def test_a_long_file_in_pieces_survives_a_killed_worker_and_comes_out_as_in_process(settings, long_talk, tmp_path):
    in_fresh_process(_long_file_case, settings, long_talk, tmp_path)


def in_fresh_process(case, *args) -> None:
    """Run `case(*args)` (its assertions included) in a new Python process. These tests open
    Milvus Lite and start Ray in one process, as the CLI and the server do, but a test process
    already holds the threads of every earlier test's Milvus Lite and gRPC, and Ray's forks
    beside them crashed it. vidrag itself starts Ray before Milvus Lite (vidrag/server/services.py)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(case, *args).result()  # re-raises what failed there


def _long_file_case(settings, long_talk, tmp_path) -> None:
    from ingest.distributed import RayWorkers
    from ingest.pipeline import Ingestor

    os.environ["RAY_AUTH_MODE"] = "disabled"
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
RAY = Path(sys.executable).with_name("ray")


@pytest.fixture(scope="module")
def talk(tmp_path_factory, espeak) -> Path:
    pytest.importorskip("ray", reason="Ray is not installed (requirements-ray.txt; make test installs it)")
    if not REAL_WHISPER.is_file():
        pytest.skip(f"the real Whisper tiny.en is not at {REAL_WHISPER}")
    from bench.speech import say, write_media

    speech = np.concatenate([say("The ferry leaves the harbour at seven."), np.zeros(8000, np.float32),
                             say("Bicycles ride on the lower deck.")])
    return write_media(speech, tmp_path_factory.mktemp("ray-faults") / "ferry.mp4", video=True)


@pytest.fixture
def ray_settings(settings):
    return settings.model_copy(update={"whisper_model": str(REAL_WHISPER), "whisper_language": "en",
                                       "describe": "off", "summarize": "off"})


def _left_on_disk(settings, video_id: str) -> tuple[list[str], int]:
    stored = sorted(p.name for p in settings.videos_dir.glob(f"{video_id}*"))
    frames = settings.frames_dir / video_id
    return stored, len(list(frames.iterdir())) if frames.is_dir() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_head(port: int) -> subprocess.Popen:
    """A Ray head on 127.0.0.1 in a session of its own, ready: killing that session takes the
    whole cluster away, and only it (`ray stop` would stop every Ray on the machine)."""
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address",
                             "127.0.0.1", "--num-cpus", "1", "--include-dashboard", "false", "--disable-usage-stats"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(2)  # the GCS answers; the raylet registers just after
                return head
        if head.poll() is not None:
            break
        time.sleep(0.2)
    _take_away(head)
    raise AssertionError(f"the Ray head on port {port} did not start")


def _take_away(head: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait(timeout=60)


def test_a_cluster_gone_mid_job_fails_it_cleanly_and_the_job_runs_again_once_it_is_back(ray_settings, talk):
    in_fresh_process(_cluster_case, ray_settings, talk)


def _cluster_case(ray_settings, talk) -> None:
    from ingest.distributed import RayWorkers
    from ingest.jobs import JobQueue
    from ingest.pipeline import Ingestor

    os.environ["RAY_AUTH_MODE"] = "disabled"
    port = _free_port()
    settings = ray_settings.model_copy(update={"ray_address": f"127.0.0.1:{port}", "ray_workers": 1,
                                               "ray_retry_s": 5.0})  # room to look before it retries
    heads = [_ray_head(port)]
    try:
        workers = RayWorkers(settings)
        queue = JobQueue(Ingestor(settings, workers=workers), workers=1)
        job = queue.submit_path(talk)
        computing_ray_worker()  # the stages are running on the cluster...
        _take_away(heads[-1])  # ...when the whole cluster goes
        deadline = time.monotonic() + 180
        while "Ray" not in (queue.get(job.id).note or "") and time.monotonic() < deadline:
            time.sleep(0.2)
        waiting = queue.get(job.id)
        assert waiting.state in ("queued", "running") and "Ray" in waiting.note, waiting
        store = queue.ingestor.store
        assert store.list_videos() == []  # nothing half-written is visible...
        video_id = _content_id(talk)
        assert not any(store.count_rows(video_id).values()) and _left_on_disk(settings, video_id) == ([], 0)

        heads.append(_ray_head(port))  # the cluster is back: the job runs again, to the end
        done = queue.wait(job.id, timeout_s=300)
        assert done.state == "done", done
        assert done.attempts >= 2 and [v.id for v in store.list_videos()] == [video_id]
        video = store.get_video(video_id)
        assert _left_on_disk(settings, video_id) == ([Path(video.file).name], video.frames)
        queue.close()
        workers.close()
    finally:
        for head in heads:
            _take_away(head)


def _content_id(path: Path) -> str:
    from ingest.storage import content_id

    return content_id(path)
