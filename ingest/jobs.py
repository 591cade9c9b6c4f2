"""Background ingest for the app: one worker thread, a queue, and progress anyone can read.

The queue lives as long as the process, not a browser session, so a reloaded page (or another
browser) sees the same jobs and their progress.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ingest.pipeline import Ingestor, content_id
from ingest.stages import PROGRESS_STAGES as STAGES
from ingest.uploads import Upload
from rag.errors import VidragError, first_line

log = logging.getLogger(__name__)

HISTORY = 50  # finished jobs kept for the page to show


@dataclass
class Job:
    name: str
    path: Path
    subtitles: Path | None
    content_id: str
    state: str = "queued"  # queued, running, done, exists, failed
    stage: str = ""
    progress: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    message: str = ""  # the error, for a failed job
    note: str = ""  # what the job waits on, such as a model downloading on first use
    warnings: list[str] = field(default_factory=list)
    video_id: str = ""
    submitted: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobQueue:
    """Ingests uploads one at a time in a background thread; on two cores, one ingest at a time
    is as fast as two and keeps the page responsive."""

    def __init__(self, ingestor: Ingestor):
        self.ingestor = ingestor
        self.ingestor.notify = self._note  # model loads (and first-use downloads) show on the job
        self._running: Job | None = None
        self._jobs: list[Job] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="vidrag-ingest", daemon=True)
        self._worker.start()

    def submit(self, upload: Upload) -> Job:
        """Queue an upload. The same bytes already indexed, or already queued or running, start
        nothing: the existing job (or a job saying "exists") is returned instead."""
        video_id = content_id(upload.path)
        with self._lock:
            running = next((j for j in self._jobs if j.content_id == video_id and j.active), None)
            if running:
                _discard(upload.path, upload.subtitles)
                return copy.deepcopy(running)
            job = Job(upload.name, upload.path, upload.subtitles, video_id)
            existing = self.ingestor.store.get_video(video_id)
            if existing:
                job.state, job.video_id = "exists", existing.id
                job.progress = dict.fromkeys(STAGES, 1.0)
                _discard(upload.path, upload.subtitles)
            else:
                self._queue.put(job)
            self._jobs.append(job)
            del self._jobs[: max(0, len(self._jobs) - HISTORY)]
            return copy.deepcopy(job)

    def jobs(self) -> list[Job]:
        """A snapshot, oldest first."""
        with self._lock:
            return copy.deepcopy(self._jobs)

    def busy(self) -> bool:
        with self._lock:
            return any(j.active for j in self._jobs)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            self._run(job)

    def _run(self, job: Job) -> None:
        def progress(stage: str, done: float, total: float) -> None:
            with self._lock:
                job.stage = stage
                job.progress[stage] = min(1.0, done / total) if total else 1.0
                for earlier in STAGES[: STAGES.index(stage)]:
                    job.progress[earlier] = 1.0

        with self._lock:
            job.state = "running"
            self._running = job
        try:
            # Hashed once, in submit; the upload is ours, so the library takes it instead of a copy.
            result = self.ingestor.add(job.path, name=job.name, subtitles=job.subtitles, progress=progress,
                                       video_id=job.content_id, move=True)
        except VidragError as e:
            self._finish(job, "failed", message=str(e))
        except Exception as e:  # a bug, not bad input: log it whole, show one line
            log.exception("ingest of %s failed", job.name)
            self._finish(job, "failed", message=f"{type(e).__name__}: {first_line(e)}")
        else:
            state = "exists" if result.status == "exists" else "done"
            self._finish(job, state, video_id=result.video.id, warnings=result.warnings)
        finally:
            # The library took the upload into videos/, or failed; either way it is spent.
            _discard(job.path, job.subtitles)

    def _note(self, message: str) -> None:
        with self._lock:
            if self._running is not None:
                self._running.note = message

    def _finish(self, job: Job, state: str, message: str = "", video_id: str = "", warnings=()) -> None:
        with self._lock:
            self._running = None
            job.state, job.message, job.video_id, job.warnings = state, message, video_id, list(warnings)
            job.note = ""
            if state != "failed":
                job.progress = dict.fromkeys(STAGES, 1.0)


def _discard(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            path.unlink(missing_ok=True)
