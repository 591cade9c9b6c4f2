"""The ingest queue: every add the server accepts (the app's uploads, API uploads, server-side
paths, URLs) is a durable job (ingest/job_store.py), run by VIDRAG_WORKERS worker threads.

Crash safety comes from two places. The job is on disk before anyone is told it was accepted,
and its file stays until the job ends (the library hard-links an upload rather than moving it).
An ingest that dies half way is undone by the next add of the same bytes (ingest/pipeline.py).
So a restart after `kill -9` requeues whatever was running and runs it again: each video ends
up indexed once, and nothing it had half-written is left.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from ingest.job_store import Job, JobStore
from ingest.pipeline import Ingestor
from ingest.stages import PROGRESS_STAGES
from ingest.storage import content_id
from ingest.uploads import Upload
from rag.errors import ClusterLostError, IngestError, VidragError, first_line

log = logging.getLogger(__name__)

HISTORY = 50  # finished jobs listed beside the active ones
PROGRESS_WRITE_S = 1.0  # progress is written to disk at most this often a job
IDLE_POLL_S = 1.0  # a worker looks for work this often when nobody wakes it


def stages_of(job: Job) -> tuple[str, ...]:
    if job.kind in ("describe", "read"):
        from ingest.backfill import READ_STAGES, STAGES

        return STAGES if job.kind == "describe" else READ_STAGES
    return ("download", *PROGRESS_STAGES) if job.kind == "url" else PROGRESS_STAGES


class JobQueue:
    """Durable ingest jobs and the threads that run them. On two cores one worker is as fast as
    two and keeps the server responsive; VIDRAG_WORKERS sets more for bigger machines."""

    def __init__(self, ingestor: Ingestor, workers: int | None = None):
        self.ingestor = ingestor
        self.settings = ingestor.settings
        self.uploads_dir = self.settings.data_dir / "uploads"
        self.store = JobStore(self.settings.data_dir)
        self.ingestor.notify = self._note  # model loads (and first-use downloads) show on the job
        self._current = threading.local()  # the job this worker thread runs, for notes
        self._live: dict[str, Job] = {}  # running jobs, with progress newer than the disk's
        self._lock = threading.Lock()
        self._busy_ids: set[str] = set()  # content ids being ingested: the same bytes wait, never race
        self._content_free = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stopping = False
        self._resume_at = 0.0  # after a lost Ray cluster: no job starts before this (monotonic)
        resumed = self.store.requeue_interrupted()
        if resumed:
            log.warning("resuming %d interrupted ingest job(s)", resumed)
        self._remove_orphan_uploads()
        count = workers or self.settings.workers
        self._threads = [threading.Thread(target=self._work, name=f"vidrag-ingest-{n}", daemon=True)
                         for n in range(count)]
        for thread in self._threads:
            thread.start()

    # --- submitting ------------------------------------------------------------------------

    def submit(self, upload: Upload) -> Job:
        """Queue an upload the server holds (its file is deleted when the job ends)."""
        return self._queue(Job("upload", str(upload.path), upload.name,
                               subtitles=str(upload.subtitles) if upload.subtitles else ""))

    def submit_path(self, path: Path, name: str | None = None) -> Job:
        """Queue a file on the server's own disk (the library copies it; the file stays)."""
        return self._queue(Job("path", str(path), name or path.name))

    def submit_url(self, url: str) -> Job:
        from ingest.download import check_url

        url = check_url(url)
        return self._queue(Job("url", url, url))

    def submit_backfill(self, kind: str, video_id: str, name: str, force: bool = False) -> Job:
        """Queue what a video indexed without it lacks (`force`: all again), as `vidrag describe`
        (kind "describe": descriptions and tags) or `vidrag read` ("read": screen text) does.
        Rerunning it is harmless: only what is missing is done."""
        return self._queue(Job(kind, video_id, name, result={"force": force}))

    def _queue(self, job: Job) -> Job:
        job.progress = dict.fromkeys(stages_of(job), 0.0)
        self.store.insert(job)  # committed before the caller hears "accepted"
        self._wake.set()
        return job

    # --- reading ---------------------------------------------------------------------------

    def jobs(self, limit: int = HISTORY) -> list[Job]:
        """The active jobs and the newest finished ones, oldest first, progress up to date."""
        listed = self.store.recent(limit)
        with self._lock:
            return [_copy(self._live.get(job.id, job)) for job in listed]

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            if job_id in self._live:
                return _copy(self._live[job_id])
        return self.store.get(job_id)

    def busy(self) -> bool:
        return any(job.active for job in self.jobs())

    def wait(self, job_id: str, timeout_s: float = 600.0) -> Job | None:
        """The job once it ended (or as it is when `timeout_s` runs out): for tests and scripts."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job is None or not job.active or time.monotonic() > deadline:
                return job
            time.sleep(0.1)

    def close(self) -> None:
        """Stop taking jobs; a running one is left to end with the process (and resumes on restart)."""
        self._stopping = True
        self._wake.set()

    # --- working ---------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping:
            wait_s = self._resume_at - time.monotonic()
            if wait_s > 0:
                self._wake.wait(min(wait_s, IDLE_POLL_S))
                continue
            job = self.store.claim()
            if job is None:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            try:
                self._run(job)
            except Exception:  # never lose the worker: the job says what went wrong
                log.exception("ingest job %s failed", job.id)

    def _run(self, job: Job) -> None:
        with self._lock:
            self._live[job.id] = job
        self._current.job = job
        last_write = [0.0]
        stages = stages_of(job)

        def progress(stage: str, done: float, total: float) -> None:
            with self._lock:
                changed = stage != job.stage
                job.stage = stage
                job.progress[stage] = min(1.0, done / total) if total else 1.0
                for earlier in stages[: stages.index(stage)] if stage in stages else ():
                    job.progress[earlier] = 1.0
            now = time.monotonic()
            if changed or now - last_write[0] >= PROGRESS_WRITE_S:
                last_write[0] = now
                self.store.update(job, "stage", "progress", "note")

        self.store.update(job, "state", "attempts")
        requeued = False
        try:
            run = {"describe": self._describe, "read": self._read}.get(job.kind, self._add)
            state, video_id, result, warnings = run(job, progress)
        except ClusterLostError as e:  # nothing of it was written: the job waits for the cluster
            requeued = True
            self._requeue(job, f"{e}; trying again in {self.settings.ray_retry_s:g} s")
        except VidragError as e:
            self._finish(job, "failed", message=str(e))
        except Exception as e:  # a bug, not bad input: log it whole, show one line
            log.exception("the %s job for %s failed", job.kind, job.name)
            self._finish(job, "failed", message=f"{type(e).__name__}: {first_line(e)}")
        else:
            job.result = result
            self._finish(job, state, video_id=video_id, warnings=warnings)
        finally:
            self._current.job = None
            if job.owns_source and not requeued:  # indexed, or failed: either way spent
                _discard(Path(job.source), Path(job.subtitles) if job.subtitles else None)

    def _add(self, job: Job, progress) -> tuple[str, str, dict, list]:
        """Ingest the job's file (a URL's downloaded first): its end state, video, result, warnings."""
        # A URL job resumed after its download has the file already (the source names it).
        downloaded = job.kind == "url" and not job.source.startswith(("http://", "https://"))
        path = self._fetch(job, progress) if job.kind == "url" and not downloaded else Path(job.source)
        added = self._ingest(job, path, progress)
        # Already there on a resumed job: it was this job's own commit, just before the crash.
        state = "exists" if added.status == "exists" and job.attempts == 1 else "done"
        result = {"status": added.status, "described": added.described, "not_described": added.not_described}
        return state, added.video.id, result, list(added.warnings)

    def _describe(self, job: Job, progress) -> tuple[str, str, dict, list]:
        """`vidrag describe` of the job's video."""
        from ingest.backfill import backfill

        video = self.ingestor.find(job.source)
        outcome = backfill(self.ingestor, video, force=bool(job.result.get("force")), progress=progress)
        result = {"frames": outcome.frames, "described": outcome.described,
                  "newly_described": outcome.newly_described, "tagged": outcome.tagged}
        return "done", video.id, result, [outcome.warning] if outcome.warning else []

    def _read(self, job: Job, progress) -> tuple[str, str, dict, list]:
        """`vidrag read` of the job's video."""
        from ingest.backfill import read_backfill

        video = self.ingestor.find(job.source)
        outcome = read_backfill(self.ingestor, video, force=bool(job.result.get("force")), progress=progress)
        result = {"frames": outcome.frames, "rows": outcome.rows, "newly_read": outcome.newly_read}
        return "done", video.id, result, [outcome.warning] if outcome.warning else []

    def _fetch(self, job: Job, progress) -> Path:
        """A URL's video, downloaded into the uploads folder under the job's id."""
        from ingest.download import download

        progress("download", 0, 1)
        downloaded = download(job.source, self.uploads_dir, self.settings.max_download_mb << 20,
                              progress=lambda done, total: progress("download", done, total or done + 1),
                              stem=job.id)
        job.source, job.title, job.name = str(downloaded.path), downloaded.title, downloaded.title or job.name
        job.result = {"source_url": downloaded.source_url}
        self.store.update(job, "source", "title", "name", "result")
        progress("download", 1, 1)
        return downloaded.path

    def _ingest(self, job: Job, path: Path, progress):
        if not path.is_file():
            raise IngestError(f"{job.name}: the file is gone ({path})")
        video_id = content_id(path)
        with self._content_free:  # the same bytes twice at once: the second waits, then finds them indexed
            self._content_free.wait_for(lambda: video_id not in self._busy_ids)
            self._busy_ids.add(video_id)
        try:
            source_url = job.result.get("source_url", "")
            return self.ingestor.add(path, name=job.name, subtitles=Path(job.subtitles) if job.subtitles else None,
                                     progress=progress, video_id=video_id, owned=job.owns_source,
                                     extra={"source_url": source_url, "title": job.title} if source_url else None)
        finally:
            with self._content_free:
                self._busy_ids.discard(video_id)
                self._content_free.notify_all()

    def _note(self, message: str) -> None:
        job = getattr(self._current, "job", None)
        if job is not None:
            with self._lock:
                job.note = message
            self.store.update(job, "note")

    def _finish(self, job: Job, state: str, message: str = "", video_id: str = "", warnings=()) -> None:
        with self._lock:
            job.state, job.message, job.video_id, job.warnings = state, message, video_id, list(warnings)
            job.note = ""
            if state != "failed":
                job.progress = dict.fromkeys(stages_of(job), 1.0)
            self.store.update(job)
            self._live.pop(job.id, None)

    def _requeue(self, job: Job, note: str) -> None:
        log.warning("ingest job %s: %s", job.id, note)
        self._resume_at = time.monotonic() + self.settings.ray_retry_s
        with self._lock:
            job.state, job.stage, job.note = "queued", "", note
            job.progress = dict.fromkeys(stages_of(job), 0.0)
            self.store.update(job, "state", "stage", "note", "progress")
            self._live.pop(job.id, None)

    def _remove_orphan_uploads(self) -> None:
        """Files in the uploads folder no active job names: saved by a process killed before it
        could queue them (nothing was accepted, so nothing is lost)."""
        if not self.uploads_dir.is_dir():
            return
        kept = self.store.active_files()
        for path in self.uploads_dir.iterdir():
            if path.is_file() and str(path) not in kept:
                path.unlink(missing_ok=True)


def _copy(job: Job) -> Job:
    return Job(**{**job.to_json(), "progress": dict(job.progress), "warnings": list(job.warnings),
                  "result": dict(job.result)})


def _discard(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            path.unlink(missing_ok=True)
