"""Ingest one media file: probe, frames, transcript, embeddings, Milvus. Crash-safe and idempotent.

A video becomes visible only when its registry row is written, after everything else. If an
ingest dies half way, the next `add` of the same bytes finds the leftovers by the content id,
removes them and starts again.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ingest.distributed.recording import replay
from ingest.indexing import compute, duration, write
from ingest.probe import MediaInfo, list_packets, probe
from ingest.stages import AFTER_COMMIT
from ingest.storage import content_id, disk_full, looks_full, take_copy
from ingest.work import Progress
from rag.datadir import check_writable
from rag.errors import IngestError
from rag.settings import Settings
from rag.store import Store
from rag.types import Video
from rag.videos.search import find_video

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp"}
AUDIO_SUFFIXES = {".mp3", ".m4a", ".wav", ".flac", ".ogg", ".opus", ".aac", ".wma"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | AUDIO_SUFFIXES
MIN_LENGTH_S = 0.5  # shorter media holds no sentence and at most one frame: nothing to find


@dataclass
class AddResult:
    video: Video
    status: str  # "added", "exists" (same bytes already indexed), or "repaired" (leftovers cleaned)
    warnings: list[str] = field(default_factory=list)
    described: int = 0  # frames described by the VLM
    not_described: str = ""  # why no frame was sent to be described, or ""
    pieces: int = 0  # of the file, run on Ray workers at once (a long file's windows, frame batches)


def media_files(path: Path, unreadable: list[str] | None = None) -> list[Path]:
    """A file as it is; a folder as the media files inside it, sorted, subfolders included.
    A folder that can't be read is one line in `unreadable` (when given; else an IngestError):
    the readable rest is still found."""
    if not path.is_dir():
        return [path]
    found, problems = [], []

    def skipped(error: OSError) -> None:
        problems.append(f"{error.filename}: cannot read this folder ({(error.strerror or 'error').lower()})")

    for folder, _, names in os.walk(path, onerror=skipped):
        found += [Path(folder) / n for n in names if PurePath(n).suffix.lower() in MEDIA_SUFFIXES]
    if problems:
        if unreadable is None:
            raise IngestError(problems[0])
        unreadable.extend(problems)
    return sorted(p for p in found if p.is_file())


class Ingestor:
    """Adds and removes videos. Models load on first use and are shared by every add."""

    def __init__(self, settings: Settings, store: Store | None = None, notify: Callable[[str], None] | None = None,
                 workers=None):
        """`workers`: a Ray pool (ingest/distributed/) that runs the stages; None: here."""
        self.settings = settings
        self.workers = workers
        self._writing = threading.Lock()
        check_writable(settings.data_dir)  # videos and frames live there, whichever Milvus holds the rows
        self.store = store or Store(settings)
        self.notify = notify
        self._device: str | None = None

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = self.settings.resolved_device()
        return self._device

    # --- add -------------------------------------------------------------------------------

    def add(self, path: str | Path, name: str | None = None, subtitles: Path | None = None,
            progress: Progress | None = None, video_id: str | None = None, owned: bool = False,
            extra: dict | None = None) -> AddResult:
        """Index one media file. `name` is what the library shows (default: the file name);
        `subtitles` overrides the sidecar search (the app's uploads keep theirs elsewhere);
        `video_id` is content_id(path), when the caller has hashed the file already; `owned` says
        the file is the server's own (an upload, a download, in the data folder): the library
        hard-links it instead of copying, and the caller deletes it when its job ends. `extra`
        is kept in the video's extra (a download's source_url and title)."""
        path = Path(path)
        name = name or path.name
        try:
            result = self._add(path, name, subtitles, progress or (lambda stage, done, total: None), video_id, owned,
                               extra or {})
        except IngestError as e:
            if name != path.name:  # an upload: speak of the file the user knows
                raise type(e)(str(e).replace(str(path), name).replace(path.name, name)) from e
            raise
        if result.status != "exists":
            for step in AFTER_COMMIT:  # each may only warn: the video is indexed and stays
                result.warnings.extend(step.run_after(self.settings, self.store, result.video))
        return result

    def _add(self, path: Path, name: str, subtitles: Path | None, progress: Progress, video_id: str | None,
             owned: bool, extra: dict):
        check_readable(path)
        progress("probe", 0, 1)
        # Already indexed? Decided from the original, so adding a folder again copies nothing.
        existing = self.store.get_video(video_id or content_id(path))
        if existing:
            return AddResult(existing, "exists")
        # From here on only the library's own copy is read: its bytes give the id, the frames, the
        # transcript and the stored file, whatever happens to the original meanwhile.
        folder = self.settings.videos_dir
        copy, video_id = take_copy(path, folder, self.settings.min_free_mb << 20, owned=owned)
        try:
            existing = self.store.get_video(video_id)  # the original changed since it was hashed
            if existing:
                copy.unlink()
                return AddResult(existing, "exists")
            status = "repaired" if self._has_leftovers(video_id) else "added"
            if status == "repaired":
                self._delete(video_id)
            working = folder / f"{video_id}.partial{path.suffix.lower()}"
            copy.replace(working)
        except BaseException:
            copy.unlink(missing_ok=True)
            raise
        try:
            try:
                info = probe(str(working))
                # The packet list checks the whole video stream (a truncated file fails here, before
                # any model loads) and gives every frame's time; the frame sampler reuses it.
                packet_list = list_packets(str(working), info.video.index) if info.video else None
                _check_length(info, packet_list)
                progress("probe", 1, 1)
                result = self._index(working, path, name, video_id, info, packet_list, subtitles, progress, extra)
            except IngestError as e:  # errors name the working copy; the user knows the original
                raise type(e)(str(e).replace(str(working), path.name).replace(working.name, path.name)) from e
        except BaseException as e:
            # Whatever stopped us, take back what was written, files first: on a full disk they
            # are what frees it, and the database may refuse even a delete until they are gone.
            full = looks_full(self.settings.data_dir, e)
            self._delete(video_id, keep_going=True)
            if full and not isinstance(e, KeyboardInterrupt):
                raise disk_full(self.settings.data_dir) from e
            raise
        result.status = status
        return result

    def _index(self, path, original: Path, name, video_id, info: MediaInfo, packet_list, subtitles,
               progress: Progress, extra: dict) -> AddResult:
        if self.workers is None:
            indexed = compute(self.settings, self.store, self.device, self.notify, path, original, name, video_id,
                              info, packet_list, subtitles, progress, extra)
            video = write(self.store, indexed, progress)
        else:  # on a Ray worker, files in parallel; their rows come back, written here one video at a time
            indexed, stage_writes = self.workers.compute(path, original, name, video_id, info, packet_list,
                                                         subtitles, extra)
            with self._writing:  # one video's rows at a time: the adds' writes never interleave
                replay(stage_writes, self.store)
                video = write(self.store, indexed, progress)
        return AddResult(video, "added", indexed.warnings, indexed.described, indexed.not_described, indexed.pieces)

    # --- remove ----------------------------------------------------------------------------

    def find(self, id_or_prefix: str) -> Video:
        """A video by its id, or by an unambiguous start of it (at least 4 characters)."""
        return find_video(self.store, id_or_prefix)

    def remove(self, id_or_prefix: str) -> Video:
        """Delete a video's rows from every collection, its frames and its stored file."""
        video = self.find(id_or_prefix)
        self._delete(video.id)
        return video

    # --- files -----------------------------------------------------------------------------

    def _frames_dir(self, video_id: str) -> Path:
        return self.settings.frames_dir / video_id

    def _stored_files(self, video_id: str) -> list[Path]:
        folder = self.settings.videos_dir
        return sorted(folder.glob(f"{video_id}.*")) if folder.is_dir() else []

    def _has_leftovers(self, video_id: str) -> bool:
        rows = self.store.count_rows(video_id)
        return any(rows.values()) or self._frames_dir(video_id).exists() or bool(self._stored_files(video_id))

    def _delete(self, video_id: str, keep_going: bool = False) -> None:
        """Files first, then rows. With `keep_going` (cleaning up after a failure) a database that
        refuses is logged, not raised: rows left behind are invisible (no registry row), and the
        next add of the same bytes removes them."""
        shutil.rmtree(self._frames_dir(video_id), ignore_errors=True)
        for stored in self._stored_files(video_id):
            stored.unlink(missing_ok=True)
        try:
            self.store.delete_video(video_id)
        except Exception:
            if not keep_going:
                raise
            log.warning("could not delete the rows of %s; the next add of it will", video_id, exc_info=True)


def check_readable(path: Path) -> None:
    """One clear line for what is not a readable regular file. Opening it (not os.access) asks
    the system the real question, for whichever user this process runs as."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise IngestError(f"{path}: no such file") from None
    except PermissionError:
        raise IngestError(f"{path}: permission denied (a folder on the way can't be read)") from None
    if stat.S_ISDIR(mode):
        raise IngestError(f"{path}: is a folder, not a media file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(
            mode) else "a socket" if stat.S_ISSOCK(mode) else "a special file"
        raise IngestError(f"{path.name}: not a regular file (it is {kind})")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise IngestError(f"{path.name}: permission denied") from None
    if path.stat().st_size == 0:
        raise IngestError(f"{path.name}: the file is empty")


def _check_length(info: MediaInfo, packet_list) -> None:
    """Refuse media too short to hold a findable moment (a 1-sample WAV was accepted as an
    entry no search could ever return). Unknown lengths pass: Whisper finds what is there."""
    if info.duration_s is None and not packet_list:
        return
    length = duration(info, packet_list, None)
    if length < MIN_LENGTH_S:
        raise IngestError(f"{os.path.basename(info.path)} is {length:.2f} s long: too short to index "
                          f"(vidrag needs at least {MIN_LENGTH_S:g} s to find anything in it)")
