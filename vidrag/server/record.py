"""Where a running server says it is: `server.json` in the data folder it owns, so a `vidrag`
command on the same library goes through it instead of opening the database. A record whose
process is gone (killed, crashed) is stale and ignored."""

from __future__ import annotations

import json
import os
from pathlib import Path

RECORD = "server.json"


def write_record(data_dir: Path, url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{RECORD}.{os.getpid()}"
    temporary.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    temporary.replace(data_dir / RECORD)


def remove_record(data_dir: Path) -> None:
    path = data_dir / RECORD
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def recorded_url(data_dir: Path) -> str:
    """The URL of the live server holding `data_dir`, or ""."""
    try:
        record = json.loads((data_dir / RECORD).read_text())
        pid, url = int(record["pid"]), str(record["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if pid == os.getpid() or not _alive(pid):
        return ""
    return url


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
