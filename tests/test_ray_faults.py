"""A fault of ingest over a real Ray (issue 23): a cluster that goes away under the server's
queue fails the job cleanly (nothing written), and the job runs again, to the end, once the
cluster is back. (A worker killed mid-file: tests/test_ray_pieces.py.)"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_WHISPER, computing_ray_worker

pytestmark = pytest.mark.slow
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
def ray_settings(settings, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
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
    from ingest.distributed import RayWorkers
    from ingest.jobs import JobQueue
    from ingest.pipeline import Ingestor

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
