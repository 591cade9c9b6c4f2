"""Ingest jobs on disk: one SQLite file in the data folder, in WAL mode.

A job is written here, and committed, before anyone is told it was accepted (the API's 202, the
app's "waiting"), so a server killed at any moment finds every accepted job again on restart.
Progress is written too, at most once a second a job, so another process (`vidrag jobs`, a page
in another server's lifetime) reads the same stages.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

JOBS_FILE = "jobs.db"
KINDS = ("upload", "path", "url", "describe", "read")  # upload and url: the file is ours, deleted when the job ends
ACTIVE = ("queued", "running")
STATES = (*ACTIVE, "done", "exists", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    subtitles TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress TEXT NOT NULL DEFAULT '{}',
    message TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    warnings TEXT NOT NULL DEFAULT '[]',
    video_id TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '{}',
    title TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    submitted REAL NOT NULL,
    updated REAL NOT NULL
)
"""
_JSON_FIELDS = ("progress", "warnings", "result")


@dataclass
class Job:
    kind: str  # upload (a file the server holds), path (a file on the server's disk), url; describe, read (a video)
    source: str  # the file's path, the URL, or the video id to describe or read
    name: str  # what the library shows: the client's file name, or the URL until its title is known
    subtitles: str = ""
    state: str = "queued"  # queued, running, done, exists, failed
    stage: str = ""
    progress: dict[str, float] = field(default_factory=dict)
    message: str = ""  # the error, for a failed job: one line
    note: str = ""  # what the job waits on, such as a model downloading on first use
    warnings: list[str] = field(default_factory=list)
    video_id: str = ""
    result: dict = field(default_factory=dict)  # the outcome (a describe job's "force" until then)
    title: str = ""  # a URL's title, once downloaded
    attempts: int = 0  # times a worker started it: more than one means it resumed after a crash
    submitted: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def owns_source(self) -> bool:
        """Whether the job's file is the server's own (an upload, a download): deleted at its end."""
        return self.kind in ("upload", "url")

    def to_json(self) -> dict:
        return asdict(self)


class JobStore:
    """The jobs table. One connection, used under a lock: SQLite serialises writers anyway, and a
    job's few writes a second are nothing to it."""

    def __init__(self, data_dir: Path):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / JOBS_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an accepted job survives a power cut, not just a kill
        self._db.execute(_SCHEMA)
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, submitted)")

    def insert(self, job: Job) -> Job:
        row = _row(job)
        names = ", ".join(row)
        with self._lock:
            self._db.execute(f"INSERT INTO jobs ({names}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        return job

    def update(self, job: Job, *names: str) -> None:
        """Write these fields of `job` (all of them when none is named)."""
        job.updated = time.time()
        row = _row(job)
        columns = [*(names or [n for n in row if n != "id"]), "updated"]
        assignments = ", ".join(f"{n} = ?" for n in dict.fromkeys(columns))
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?",
                             (*(row[n] for n in dict.fromkeys(columns)), job.id))

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest `limit` jobs and every active one, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state IN ('queued', 'running') OR id IN "
                "(SELECT id FROM jobs ORDER BY submitted DESC LIMIT ?) ORDER BY submitted", (limit,)).fetchall()
        return [_job(row) for row in rows]

    def claim(self) -> Job | None:
        """The oldest queued job, now marked running (one worker gets each)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE state = 'queued' ORDER BY submitted LIMIT 1").fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, updated = ? WHERE id = ?",
                             (time.time(), row["id"]))
        job = _job(row)
        job.state, job.attempts = "running", job.attempts + 1
        return job

    def requeue_interrupted(self) -> int:
        """Jobs left running by a process that died: queued again, to start over."""
        with self._lock:
            return self._db.execute("UPDATE jobs SET state = 'queued', note = '' WHERE state = 'running'").rowcount

    def active_files(self) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT source, subtitles FROM jobs WHERE state IN ('queued', 'running')")
            return {value for row in rows for value in row if value}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(job: Job) -> dict:
    row = job.to_json()
    for name in _JSON_FIELDS:
        row[name] = json.dumps(row[name], ensure_ascii=False)
    return row


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    for name in _JSON_FIELDS:
        values[name] = json.loads(values[name])
    return Job(**values)
