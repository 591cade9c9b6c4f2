"""A pool of Ray actors that run the ingest stages. Each actor is one process that loads the
models once (rag.models caches them per process) and then indexes file after file; the driver
asks whichever is idle, so files are indexed in parallel, as many at once as there are actors.

`VIDRAG_RAY_ADDRESS` (or `vidrag add --ray`): "local" starts a Ray on this machine (on
127.0.0.1, for as many actors as VIDRAG_RAY_WORKERS), "auto" joins the cluster this machine is
part of, "ray://host:10001" a remote one. The data folder must be the same path on every worker
(shared storage on a real cluster): a worker that can't see it refuses at once, in one line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import queue
import socket
import threading
from pathlib import Path

from rag.datadir import check_writable
from rag.errors import ClusterLostError, IngestError, VidragError, first_line
from rag.settings import Settings

# A worker process that dies mid-file (killed, out of memory, its machine gone) is started again
# and the file's stages rerun from the start, this many times: the stages only read the working
# copy and write files under the video's own names, and their rows come back only on success.
RETRIES = 2


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


class RayWorkers:
    """The actors, and the connection to the cluster they run on. A cluster that goes away fails
    the files in flight with ClusterLostError; the next file connects again (and starts a new
    local Ray, for "local"), so a server's queue can carry on once the cluster is back."""

    def __init__(self, settings: Settings, address: str | None = None, workers: int | None = None):
        if not ray_installed():
            raise VidragError("Ray is not installed: pip install 'vidrag[ray]' (or -r requirements-ray.txt)")
        self.address = address or settings.ray_address
        self.count = workers or settings.ray_workers
        check_writable(settings.data_dir)  # made here if new; the workers check that they see it
        # Workers get absolute paths: their working folder is not the driver's.
        self.settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve(), "ray_address": ""})
        self.started_here = False
        self.actors: list = []
        self.idle: queue.Queue = queue.Queue()
        self._lock = threading.Lock()  # one (re)connection at a time
        self._connect()

    @property
    def size(self) -> int:
        return self.count

    def _connect(self) -> None:
        import ray

        if not ray.is_initialized():
            try:
                if self.address == "local":
                    # address="local": a new Ray of our own, even where `ray start` runs one here
                    # (ray.init() alone would join that one, and refuse num_cpus).
                    ray.init(address="local", num_cpus=self.count, include_dashboard=False, log_to_driver=False,
                             _node_ip_address="127.0.0.1")
                    self.started_here = True
                else:
                    ray.init(address=self.address, log_to_driver=False)
            except Exception as e:  # no cluster there, or a version mismatch: one line
                raise ClusterLostError(f"cannot reach the Ray cluster at {self.address}: {first_line(e)}") from e
        # Two threads: one for a file's stages, one for a piece of a file (its own or another's);
        # the actor's lock lets only one of them compute at a time (IndexingActor).
        actor = ray.remote(IndexingActor).options(num_cpus=1, max_restarts=RETRIES, max_task_retries=RETRIES,
                                                  max_concurrency=2)
        actors = [actor.remote(self.settings.model_dump_json()) for _ in range(self.count)]
        try:
            ray.get([a.ready.remote() for a in actors])
        except ray.exceptions.RayTaskError as e:
            raise _cause(e) from None
        except ray.exceptions.RayError as e:
            raise ClusterLostError(f"cannot start Ray workers at {self.address}: {first_line(e)}") from None
        self.actors, self.idle = actors, queue.Queue()
        for a in actors:
            self.idle.put(a)

    def _reconnect(self) -> None:
        """After a lost cluster: a fresh connection and fresh actors (the old ones are gone)."""
        import ray

        with self._lock:
            if self.actors:
                return  # another thread has reconnected
            ray.shutdown()
            self._connect()

    def compute(self, path: Path, original: Path, name: str, video_id: str, info, packet_list,
                subtitles: Path | None, extra: dict):
        """The stages on an idle actor (waiting for one): the Indexed, and the writes the stages
        asked for (ingest/distributed/recording.py), for the driver to do."""
        import ray

        from ingest.subtitles import find_sidecar

        if not self.actors:
            self._reconnect()
        # The sidecar subtitles are found here, beside the user's file, which a worker may not see.
        subtitles = subtitles or find_sidecar(original)
        pool = self.idle
        actor = pool.get()
        try:
            indexed, calls = ray.get(actor.compute.remote(path, original, name, video_id, info, packet_list,
                                                          subtitles, extra, self.actors))
        except ray.exceptions.RayTaskError as e:
            raise _cause(e) from None
        except ray.exceptions.RayError as e:  # the worker died RETRIES + 1 times, or the cluster went away
            self.actors = []  # the next file connects again
            # Ray's own words are an RPC error's; its class says which (ActorDiedError, ...)
            raise ClusterLostError(f"{original.name}: the Ray worker was lost ({type(e).__name__})") from None
        finally:
            pool.put(actor)
        return indexed, calls

    def close(self) -> None:
        import ray

        for a in self.actors:
            with contextlib.suppress(Exception):  # already gone with its cluster
                ray.kill(a)
        if self.started_here:
            ray.shutdown()


def _cause(error) -> Exception:
    """The worker's own error, as in-process ingest raises it (Ray wraps it in a traceback)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, VidragError):
        return cause
    return IngestError(first_line(cause) if cause is not None else first_line(error))


class IndexingActor:
    """One Ray worker process: settings from the driver, models loaded on the first file.

    It runs one file's stages at a time, and pieces of long files (Work.map): the file it runs
    sends its pieces to every actor of the pool, itself included, and waits. `busy` lets one
    thread compute at a time, and the file's thread lets go of it while it waits: the process
    never runs two models at once (Whisper's decoding hooks are per model, not per call), and a
    piece never waits for a file that waits for it."""

    def __init__(self, settings_json: str):
        self.settings = Settings.model_validate_json(settings_json)
        self.device = self.settings.resolved_device()
        self.busy = threading.Lock()

    def ready(self) -> str:
        data = self.settings.data_dir
        if not data.is_dir():
            raise IngestError(f"the Ray worker on {socket.gethostname()} can't see the data folder {data}: "
                              "it must be shared storage, at the same path on every worker")
        return socket.gethostname()

    def compute(self, path, original, name, video_id, info, packet_list, subtitles, extra, peers):
        from ingest.distributed.recording import RecordingStore
        from ingest.indexing import compute

        if not Path(path).is_file():
            raise IngestError(f"{Path(original).name}: the Ray worker on {socket.gethostname()} can't see {path}: "
                              "the data folder must be shared storage, at the same path on every worker")
        store = RecordingStore()
        with self.busy:
            indexed = compute(self.settings, store, self.device, None, path, original, name, video_id, info,
                              packet_list, subtitles, lambda stage, done, total: None, extra,
                              fan_out=lambda function, items: self._fan_out(peers, function, items))
        return indexed, store.calls

    def _fan_out(self, peers, function, items: list) -> list:
        import ray

        refs = [peers[i % len(peers)].piece.remote(function, item) for i, item in enumerate(items)]
        self.busy.release()  # while this file waits, this process computes a piece
        try:
            return ray.get(refs)
        except ray.exceptions.RayTaskError as e:
            raise _cause(e) from None
        except ray.exceptions.RayError as e:  # a peer died RETRIES + 1 times, or the cluster went away
            raise ClusterLostError(f"a Ray worker was lost ({type(e).__name__})") from None
        finally:
            self.busy.acquire()

    def piece(self, function, item):
        with self.busy:
            return function(self.settings, self.device, item)
