"""Opening Milvus Lite: its gRPC options, and whether another process holds its database."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rag.settings import Settings


def lite_options(settings: Settings) -> dict:
    """Milvus Lite's gRPC server runs in this process and, like any gRPC server, takes a client
    that pings more often than every 5 minutes for misbehaving: it closes the connection
    ("too_many_pings") and the next request waits for a reconnect. Keepalive pings have nothing
    to detect in-process, so they are turned off for Lite."""
    if not settings.is_milvus_lite:
        return {}
    return {"grpc_options": {"grpc.keepalive_time_ms": 2**31 - 1, "grpc.keepalive_permit_without_calls": 0}}


def lite_is_locked(db_dir: Path) -> bool:
    lock_path = db_dir / "LOCK"
    if not lock_path.exists():
        return False
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)

