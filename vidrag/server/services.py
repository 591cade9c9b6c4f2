"""The process's one library and one ingest queue, shared by the web pages, the API and MCP.

Milvus Lite is one process at a time; within the process, everything uses these.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ingest.jobs import JobQueue
from ingest.pipeline import Ingestor
from rag import Library
from rag.settings import Settings

_lock = threading.Lock()
_services: dict[str, Services] = {}


@dataclass
class Services:
    settings: Settings
    library: Library
    ingestor: Ingestor
    jobs: JobQueue


def services(settings: Settings) -> Services:
    """The services for these settings, opened on first use (the ingest workers start with them,
    and resume whatever a killed process left). With VIDRAG_RAY_ADDRESS the queue's jobs run
    their stages on Ray, as many at once as there are Ray workers."""
    key = settings.model_dump_json()
    with _lock:
        if key not in _services:
            workers = _ray_workers(settings)  # first: Ray forks before Milvus Lite's threads exist
            library = Library(settings)
            ingestor = Ingestor(settings, store=library.store, workers=workers)
            queue = JobQueue(ingestor, workers=max(settings.workers, workers.size) if workers else None)
            _services[key] = Services(settings, library, ingestor, queue)
        return _services[key]


def _ray_workers(settings: Settings):
    if not settings.ray_address:
        return None
    from ingest.distributed import RayWorkers
    return RayWorkers(settings)
