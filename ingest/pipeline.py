"""Ingest one media file: probe, frames, transcript, embeddings, Milvus. Crash-safe and idempotent.

A video becomes visible only when its registry row is written, after everything else. If an
ingest dies half way, the next `add` of the same bytes finds the leftovers by the content id,
removes them and starts again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath

from ingest.audio import audio_windows
from ingest.chunks import chunk_segments
from ingest.describe import describe_stage
from ingest.frames import extract_frames
from ingest.probe import MediaInfo, list_packets, probe
from ingest.storage import content_id, disk_full, looks_full, take_copy
from ingest.subtitles import find_sidecar, read_embedded, read_sidecar
from ingest.summary import summarize_after_add
from ingest.transcribe import transcribe_windows
from rag.datadir import check_writable
from rag.errors import IngestError
from rag.models import load_clip_embedder, load_text_embedder, load_whisper
from rag.settings import Settings
from rag.store import Store
from rag.tags import tag_video
from rag.types import Transcript, Video
from rag.video_index import VideoIndex
from rag.video_search import find_video

log = logging.getLogger(__name__)
# Called as work advances: (stage, done, total). Stages, in order:
STAGES = ("probe", "frames", "describe", "transcript", "embeddings", "index")
Progress = Callable[[str, float, float], None]

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp"}
AUDIO_SUFFIXES = {".mp3", ".m4a", ".wav", ".flac", ".ogg", ".opus", ".aac", ".wma"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | AUDIO_SUFFIXES
MIN_LENGTH_S = 0.5  # shorter media holds no sentence and at most one frame: nothing to find
EMBED_BATCH = 32  # frames or chunks per embedding call, between progress reports


@dataclass
class AddResult:
    video: Video
    status: str  # "added", "exists" (same bytes already indexed), or "repaired" (leftovers cleaned)
    warnings: list[str] = field(default_factory=list)
    described: int = 0  # frames described by the VLM
    not_described: str = ""  # why no frame was sent to be described, or ""


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

    def __init__(self, settings: Settings, store: Store | None = None, notify: Callable[[str], None] | None = None):
        self.settings = settings
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
            progress: Progress | None = None, video_id: str | None = None, move: bool = False) -> AddResult:
        """Index one media file. `name` is what the library shows (default: the file name);
        `subtitles` overrides the sidecar search (the app's uploads keep theirs elsewhere);
        `video_id` is content_id(path), when the caller has hashed the file already; `move` hands
        the file itself to the library (an upload, already in the data folder) instead of a copy."""
        path = Path(path)
        name = name or path.name
        try:
            result = self._add(path, name, subtitles, progress or (lambda stage, done, total: None), video_id, move)
        except IngestError as e:
            if name != path.name:  # an upload: speak of the file the user knows
                raise IngestError(str(e).replace(str(path), name).replace(path.name, name)) from e
            raise
        if result.status != "exists":
            result.warnings.extend(summarize_after_add(self.settings, self.store, result.video))
        return result

    def _add(self, path: Path, name: str, subtitles: Path | None, progress: Progress, video_id: str | None,
             move: bool):
        _check_readable(path)
        progress("probe", 0, 1)
        # Already indexed? Decided from the original, so adding a folder again copies nothing.
        existing = self.store.get_video(video_id or content_id(path))
        if existing:
            if move:
                path.unlink(missing_ok=True)
            return AddResult(existing, "exists")
        # From here on only the library's own copy is read: its bytes give the id, the frames, the
        # transcript and the stored file, whatever happens to the original meanwhile.
        folder = self.settings.videos_dir
        copy, video_id = take_copy(path, folder, self.settings.min_free_mb << 20, move=move)
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
                video, warnings, described = self._index(working, path, name, video_id, info, packet_list, subtitles,
                                                         progress)
            except IngestError as e:  # errors name the working copy; the user knows the original
                raise IngestError(str(e).replace(str(working), path.name).replace(working.name, path.name)) from e
        except BaseException as e:
            # Whatever stopped us, take back what was written, files first: on a full disk they
            # are what frees it, and the database may refuse even a delete until they are gone.
            full = looks_full(self.settings.data_dir, e)
            self._delete(video_id, keep_going=True)
            if full and not isinstance(e, KeyboardInterrupt):
                raise disk_full(self.settings.data_dir) from e
            raise
        return AddResult(video, status, warnings, described.described, described.skipped)

    def _index(self, path, original: Path, name, video_id, info: MediaInfo, packet_list, subtitles,
               progress: Progress):
        warnings: list[str] = []
        settings = self.settings
        text_model = load_text_embedder(settings.text_model, self.device, self.notify)
        self.store.ensure_collection("text", text_model.name, text_model.dim)
        clip = None
        if info.video:
            clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, self.device, self.notify)
            self.store.ensure_collection("image", clip.name, clip.dim)

        frames = []
        if info.video:
            frames = extract_frames(
                info, self._frames_dir(video_id), settings.frame_fps,
                on_frame=lambda done, total: progress("frames", done, total),
                packet_list=packet_list,
            )
        described = describe_stage(settings, self.store, text_model, video_id, frames,
                                   progress=lambda done, total: progress("describe", done, total))
        if described.warning:
            warnings.append(described.warning)

        progress("transcript", 0, 2)
        transcript, audio_s = self._transcript(original, info, subtitles, warnings, progress)
        progress("transcript", 2, 2)

        chunks = chunk_segments(transcript.segments, text_model.max_tokens, text_model.count_tokens)
        # Chunks, their segments (so search can narrow a hit without the model) and frames.
        texts = len(chunks) + sum(len(c.segments) for c in chunks)
        total = texts + len(frames)
        chunk_vectors, segment_vectors = embed_chunks(
            text_model, chunks, on_batch=lambda done: progress("embeddings", done, total))
        image_vectors = []
        for i in range(0, len(frames), EMBED_BATCH):
            image_vectors.extend(clip.embed_images([f.path for f in frames[i : i + EMBED_BATCH]]))
            progress("embeddings", texts + len(image_vectors), total)
        frame_tags, tags = tag_video(settings, clip, image_vectors) if frames else ([], [])

        progress("index", 0, 3)
        self.store.insert_chunks(video_id, chunks, chunk_vectors, segment_vectors)
        progress("index", 1, 3)
        self.store.insert_frames(video_id, frames, image_vectors)
        progress("index", 2, 3)
        stored = path.with_name(f"{video_id}{original.suffix.lower()}")
        path.replace(stored)  # the copy is complete; a registry row without it is never written
        video = Video(
            id=video_id,
            name=name,
            file=str(stored),
            duration_s=round(_duration(info, packet_list, audio_s), 3),
            frames=len(frames),
            text_chunks=len(chunks),
            language=transcript.language,
            transcript_source=transcript.source,
            has_video=info.video is not None,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            extra={"rotation": info.rotation, "format": info.format},
            tags=tags,
            frame_tags=frame_tags,
        )
        if described.described:  # the text vector averages the descriptions too: read back with them
            VideoIndex(self.store).refresh(video_id)
        else:
            VideoIndex(self.store).put_vectors(video_id, {"image": image_vectors, "text": chunk_vectors})
        self.store.commit_video(video)  # the commit marker: from here on the video is visible
        progress("index", 3, 3)
        return video, warnings, described

    def _transcript(self, path: Path, info: MediaInfo, subtitles: Path | None, warnings: list[str], progress):
        """Subtitles beside the file (`path` is the user's original), then subtitles inside it,
        then Whisper on the audio (both read from the library's copy, `info.path`)."""
        sidecar = subtitles or find_sidecar(path)
        if sidecar:
            try:
                return read_sidecar(path, sidecar), None
            except IngestError as e:
                warnings.append(f"{e}; using the audio instead")
        embedded = read_embedded(info)
        if embedded:
            return embedded, None
        if info.audio is None:
            if info.video is not None:
                warnings.append("no audio stream: indexed the frames only")
            return Transcript((), "", "none"), None
        # closing(): if Whisper fails mid-way, the ffmpeg still decoding is stopped at once.
        with contextlib.closing(audio_windows(info)) as windows:
            try:
                first = next(windows)  # decoding starts, and fails here, before Whisper loads
            except IngestError as e:
                if info.video is None:
                    raise IngestError(f"{path.name}: {e}") from e
                warnings.append(f"{e}: indexed the frames only")
                return Transcript((), "", "none"), None
            progress("transcript", 1, 2)  # the audio decodes; Whisper's turn
            model = load_whisper(self.settings.whisper_model, self.device, self.notify)
            length_s = info.duration_s or 0.0

            def on_window(done_s: float) -> None:
                if length_s > 0:
                    progress("transcript", 1 + min(done_s / length_s, 1.0), 2)

            return transcribe_windows(model, itertools.chain([first], windows), self.settings.whisper_language,
                                      self.device, on_window)

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


def embed_chunks(text_model, chunks, on_batch: Callable[[int], None] | None = None):
    """Vectors for each chunk, and for each chunk's segments (so search can narrow a hit to its
    sentence without running the model): (chunk vectors, [segment vectors per chunk])."""
    texts = [c.text for c in chunks] + [s.text for c in chunks for s in c.segments]
    vectors = []
    for i in range(0, len(texts), EMBED_BATCH):
        vectors.extend(text_model.embed(texts[i : i + EMBED_BATCH]))
        if on_batch:
            on_batch(len(vectors))
    per_chunk, at = [], len(chunks)
    for chunk in chunks:
        per_chunk.append(vectors[at : at + len(chunk.segments)])
        at += len(chunk.segments)
    return vectors[: len(chunks)], per_chunk


def _check_readable(path: Path) -> None:
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
    length = _duration(info, packet_list, None)
    if length < MIN_LENGTH_S:
        raise IngestError(f"{os.path.basename(info.path)} is {length:.2f} s long: too short to index "
                          f"(vidrag needs at least {MIN_LENGTH_S:g} s to find anything in it)")


def _duration(info: MediaInfo, packet_list, audio_s: float | None) -> float:
    """The container's duration, or else the video packets' end, or else the decoded audio's."""
    if info.duration_s:
        return info.duration_s
    if packet_list:
        time_base, packets = packet_list
        return max(float((p.pts + p.duration) * time_base) for p in packets) - info.start_s
    return audio_s or 0.0
