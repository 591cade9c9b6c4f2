"""`vidrag serve` under load: concurrent API search clients against the synthetic library of
bench/retrieval.py on the embedded store, with an ingest job running in the same server.

Phases, one after another on one server: a single client with the server idle, a single client
with the ingest job running, then `clients` at once (the ingest still running). Each client asks
a new question as soon as the previous answer is in (a closed loop: the hardest case), unless
`think_s` is given for the many clients (a person reading the results between searches). The
server's memory is read from /proc while the clients run.

The phases run once per VIDRAG_QUERY_BATCH given, side by side in one run: each search encoding
its question on its own, against concurrent searches sharing a batch (rag/retrieval/query_batch.py)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.media import test_video
from bench.retrieval import _library, question
from bench.stats import percentile

WARMUP = 5


def run(hours: float = 10.0, clients: int = 16, seconds: float = 60.0, single_s: float = 20.0,
        think_s: float = 0.0, ingest_seconds: int = 1800, query_batches: tuple[int, ...] = (0, 32)) -> dict:
    """One library, then one server for each VIDRAG_QUERY_BATCH in `query_batches` (0: each
    search encodes its question on its own), each on a fresh copy of it and with its own ingest."""
    from rag.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-server-") as folder:
        library = Path(folder) / "library"
        settings = load_settings(data_dir=library)
        frames, text_chunks = _build_library(library, hours)
        ingest_video = test_video(ingest_seconds, height=360)
        servers = {}
        for batch in query_batches:
            data_dir = Path(folder) / f"batch-{batch}"
            shutil.copytree(library, data_dir)
            servers[f"query_batch_{batch}"] = _serve(data_dir, {"VIDRAG_QUERY_BATCH": str(batch)}, ingest_video,
                                                     clients, seconds, single_s, think_s)
            shutil.rmtree(data_dir)
    return {"hours": hours, "frames": frames, "text_chunks": text_chunks, "clients": clients, "seconds": seconds,
            "think_s": think_s, "device": settings.resolved_device(), **servers}


def _serve(data_dir: Path, env: dict, ingest_video: Path, clients: int, seconds: float, single_s: float,
           think_s: float) -> dict:
    """The three phases against one server."""
    import httpx

    server = _Server(data_dir.parent, data_dir, env).start()
    try:
        url = server.url
        with httpx.Client(timeout=120) as http:
            for _ in range(WARMUP):  # the first searches load the encoders
                _search(http, url, question(random.Random()))
        idle = _clients(url, 1, single_s, 0.0)  # the baselines ask back to back, whatever `think_s`
        job = httpx.post(f"{url}/api/v1/videos", json={"path": str(ingest_video)}, timeout=60).json()["jobs"][0]
        _wait_running(url, job["id"])
        busy = _clients(url, 1, single_s, 0.0)
        rss = _RssSampler(server.process.pid).start()
        loaded = _clients(url, clients, seconds, think_s)
        memory = rss.stop()
        job = httpx.get(f"{url}/api/v1/jobs/{job['id']}", timeout=60).json()
    finally:
        server.stop()
    return {
        "single_idle": idle, "single_with_ingest": busy, "loaded": loaded,
        "p95_ratio": round(loaded["p95_ms"] / busy["p95_ms"], 2),
        "p95_ratio_to_idle": round(loaded["p95_ms"] / idle["p95_ms"], 2),
        "ingest_still_running": job["state"] == "running", "ingest_stage": job.get("stage"),
        "server_rss_mb": memory,
    }


def _build_library(data_dir: Path, hours: float) -> tuple[int, int]:
    """The synthetic library, written by a process of its own: Milvus Lite keeps a database locked
    until the process that opened it ends, and the server must open it next."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_write_library, (str(data_dir), hours))


def _write_library(data_dir: str, hours: float) -> tuple[int, int]:
    from rag.models import load_clip_embedder, load_text_embedder
    from rag.settings import load_settings

    settings = load_settings(data_dir=Path(data_dir))
    device = settings.resolved_device()
    text_model = load_text_embedder(settings.text_model, device)
    clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, device)
    library, frames, text_chunks = _library(settings, "lite", hours, text_model, clip)
    library.close()
    return frames, text_chunks


def _search(client, url: str, text: str) -> None:
    reply = client.get(f"{url}/api/v1/search", params={"q": text, "k": 5})
    reply.raise_for_status()
    if not reply.json()["moments"]:
        raise AssertionError("the synthetic library should always match something")


def _clients(url: str, count: int, seconds: float, think_s: float) -> dict:
    """`count` clients asking for `seconds`: latency percentiles, throughput and errors."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(f"client-{number}-{count}")
        with httpx.Client(timeout=120) as http:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:
                    _search(http, url, question(rng))
                    with lock:
                        latencies.append((time.perf_counter() - start) * 1000)
                except Exception as e:  # an error is a figure here, not a reason to stop
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}"[:200])
                if think_s:
                    time.sleep(rng.uniform(0.5, 1.5) * think_s)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"clients": count, "searches": len(latencies), "per_s": round(len(latencies) / wall, 2),
            "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
            "max_ms": round(max(latencies), 1), "errors": len(errors), "first_errors": errors[:3]}


def _wait_running(url: str, job_id: str, timeout_s: float = 300) -> None:
    """Until the job is past its queue and into the stages that load models (or, for a video
    too short to outlast that, done: the figures then say the ingest was no longer running)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/api/v1/jobs/{job_id}", timeout=60).json()
        if job["state"] == "running" and job.get("stage") not in (None, "", "queued", "probe"):
            return
        if job["state"] in ("done", "exists"):
            return
        if job["state"] != "queued" and job["state"] != "running":
            raise SystemExit(f"the ingest job failed: {job.get('message') or job}")
        time.sleep(0.2)
    raise SystemExit("the ingest job did not start")


class _RssSampler:
    """The server's resident memory every 0.5 s: at the start, the peak and the end (MB); and the
    CPU it used meanwhile, in cores (2.0: both of a 2-core machine's)."""

    def __init__(self, pid: int):
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> _RssSampler:
        self.samples.append(self._rss())
        self.started, self.cpu_at_start = time.monotonic(), self._cpu_s()
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self.samples.append(self._rss())
        start, end = self.samples[0], self.samples[-1]
        cores = (self._cpu_s() - self.cpu_at_start) / (time.monotonic() - self.started)
        halfway = self.samples[len(self.samples) // 2]
        return {"start": start, "peak": max(self.samples), "end": end, "growth": round(end - start, 1),
                "growth_second_half": round(end - halfway, 1),  # near 0 once the allocator has what it needs
                "cpu_cores": round(cores, 2)}

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append(self._rss())

    def _cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def _rss(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        raise RuntimeError("no VmRSS")


class _Server:
    """`vidrag serve` on a free port of 127.0.0.1, with this process's model settings."""

    def __init__(self, folder: Path, data_dir: Path, env: dict):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = {**os.environ, "VIDRAG_DATA_DIR": str(data_dir), "VIDRAG_DESCRIBE": "off",
                    "VIDRAG_SUMMARIZE": "off", "VIDRAG_VLM_BASE_URL": "http://127.0.0.1:9/v1", **env}
        self.process = None

    def start(self) -> _Server:
        import httpx

        self.log = self.folder / f"serve-{self.port}.log"  # a file, not a pipe: a full pipe would stall the server
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "vidrag", "serve", "--port", str(self.port)],
                                            cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600  # a large library takes a while to open
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"vidrag serve ended: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SystemExit("vidrag serve did not answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
