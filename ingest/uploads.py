"""Files that arrive through the browser: stored under generated names, subtitles paired with
their video by file stem."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from ingest.pipeline import MEDIA_SUFFIXES
from ingest.subtitles import SIDECAR_SUFFIXES, sidecar_tag

# What the browser's file picker offers: everything `vidrag add` takes, and subtitles.
UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in (*MEDIA_SUFFIXES, *SIDECAR_SUFFIXES))
COPY_BLOCK = 1 << 20  # bytes per write while saving an upload


@dataclass(frozen=True)
class Upload:
    name: str  # the client's file name, for display only
    path: Path  # where it is stored: a generated name in the uploads folder
    subtitles: Path | None = None


def display_name(client_name: str) -> str:
    """The name as the browser sent it, for display only (the file is stored under a generated
    name, so nothing in it can reach the filesystem). A Windows path, which old browsers sent,
    is cut to its last part; a `/` stays, since a scripted upload may send one (the page shows
    it literally)."""
    name = client_name.rsplit("\\", 1)[-1].strip()
    return name or "upload"


def save_uploads(files: list[tuple[str, BinaryIO]], folder: Path) -> list[Upload]:
    """Store each media file under a generated name, with the subtitle file of the same stem
    (`talk.mp4` + `talk.srt` or `talk.en.vtt`) stored beside it under the same generated stem,
    so the language in its name survives. Other files are ignored."""
    folder.mkdir(parents=True, exist_ok=True)
    named = {display_name(client_name): data for client_name, data in files}
    uploads = []
    for name, data in named.items():
        if PurePath(name).suffix.lower() not in MEDIA_SUFFIXES:
            continue
        stem = uuid.uuid4().hex
        path = _store(data, folder / f"{stem}{PurePath(name).suffix.lower()}")
        subtitles = None
        for other, other_data in sorted(named.items()):
            tag = sidecar_tag(PurePath(name).stem, other)
            if tag is not None:  # stored as <stem>.srt or <stem>.<language>.srt, like a sidecar
                suffix = f".{tag}" if tag else ""
                subtitles = _store(other_data, folder / f"{stem}{suffix}{PurePath(other).suffix.lower()}")
                break
        uploads.append(Upload(name, path, subtitles))
    return uploads


def _store(data: BinaryIO, path: Path) -> Path:
    with open(path, "wb") as out:
        shutil.copyfileobj(data, out, COPY_BLOCK)
    return path
