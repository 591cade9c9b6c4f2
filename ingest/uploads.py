"""Files that arrive through the browser: stored under generated names, subtitles paired with
their video by file stem."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from ingest.pipeline import MEDIA_SUFFIXES
from ingest.subtitles import LANGUAGE_TAG, SIDECAR_SUFFIXES

UPLOAD_TYPES = ["mp4", "mov", "mkv", "webm", "avi", "m4v", "mp3", "m4a", "wav", "flac", "srt", "vtt"]
COPY_BLOCK = 1 << 20  # bytes per write while saving an upload


@dataclass(frozen=True)
class Upload:
    name: str  # the client's file name, for display only
    path: Path  # where it is stored: a generated name in the uploads folder
    subtitles: Path | None = None


def display_name(client_name: str) -> str:
    """The last part of whatever the browser sent, never a path."""
    name = PurePath(client_name.replace("\\", "/")).name.strip()
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
            language = _subtitle_language(PurePath(name).stem, other)
            if language is not None:
                subtitles = _store(other_data, folder / f"{stem}{language}{PurePath(other).suffix.lower()}")
                break
        uploads.append(Upload(name, path, subtitles))
    return uploads


def _subtitle_language(media_stem: str, name: str) -> str | None:
    """"" for `talk.srt`, ".en" for `talk.en.srt`, None when `name` is not talk's subtitle file."""
    path = PurePath(name)
    if path.suffix.lower() not in SIDECAR_SUFFIXES:
        return None
    if path.stem == media_stem:
        return ""
    rest = path.stem[len(media_stem) :] if path.stem.startswith(media_stem + ".") else ""
    return rest if LANGUAGE_TAG.match(rest[1:]) else None


def _store(data: BinaryIO, path: Path) -> Path:
    with open(path, "wb") as out:
        shutil.copyfileobj(data, out, COPY_BLOCK)
    return path
