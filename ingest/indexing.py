"""An add's two halves: `compute` runs one probed file through the stages, `write` puts the rows
where the library is and commits. Apart, so that the first can run on a Ray worker
(ingest/distributed/) while only the driver writes to Milvus Lite; in-process ingest calls one
after the other. What `compute` gives `write` (Indexed) is plain data, picklable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.stages import STAGES
from ingest.work import Progress, Work
from rag.models import load_clip_embedder, load_text_embedder
from rag.store.videos import VideoIndex
from rag.types import Chunk, Frame, Video


@dataclass
class Indexed:
    video: Video  # its registry row, written last
    working: Path  # the library's copy under its working name, renamed to video.file by `write`
    chunks: list[Chunk]
    chunk_vectors: list
    segment_vectors: list
    frames: list[Frame]
    image_vectors: list
    text_vectors: list  # every text row's vector (chunks, descriptions, screen text): the video's mean
    warnings: list[str] = field(default_factory=list)
    described: int = 0
    not_described: str = ""
    pieces: int = 0  # of the file, run on Ray workers at once (Work.map)


def compute(settings, store, device: str, notify, path: Path, original: Path, name: str, video_id: str, info,
            packet_list, subtitles: Path | None, progress: Progress, extra: dict, fan_out=None) -> Indexed:
    """The stages over the library's working copy `path` (stages may write rows of their own to
    `store`, invisible until the commit); `fan_out` runs a long file's pieces on Ray (Work.map).
    The copy keeps its working name until `write`: a Ray worker killed here is retried, and the
    retry reads the same file again."""
    text_model = load_text_embedder(settings.text_model, device, notify)
    store.ensure_collection("text", text_model.name, text_model.dim)
    clip = None
    if info.video:
        clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, device, notify)
        store.ensure_collection("image", clip.name, clip.dim)
    work = Work(settings, store, device, video_id, path, original, info, packet_list, subtitles,
                text_model, clip, progress, notify, fan_out)
    for stage in STAGES:
        stage.run(work)
    stored = path.with_name(f"{video_id}{original.suffix.lower()}")
    video = Video(
        id=video_id,
        name=name,
        file=str(stored),
        duration_s=round(duration(info, packet_list, work.audio_s), 3),
        frames=len(work.frames),
        text_chunks=len(work.chunks),
        language=work.transcript.language,
        transcript_source=work.transcript.source,
        has_video=info.video is not None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={"rotation": info.rotation, "format": info.format, **extra,
               **({"screen_read": work.screen_read} if work.screen_read else {})},
        tags=work.tags,
        frame_tags=work.frame_tags,
        speakers=work.speakers,
    )
    return Indexed(video, Path(path), work.chunks, work.chunk_vectors, work.segment_vectors, work.frames,
                   work.image_vectors, [*work.chunk_vectors, *work.description_vectors, *work.screen_vectors],
                   work.warnings, work.described, work.not_described, work.pieces)


def write(store, indexed: Indexed, progress: Progress) -> Video:
    """The rows, the video-level vectors, and last the registry row."""
    video = indexed.video
    indexed.working.replace(video.file)  # the copy is complete; a registry row without it is never written
    progress("index", 0, 3)
    store.insert_chunks(video.id, indexed.chunks, indexed.chunk_vectors, indexed.segment_vectors, video.language)
    progress("index", 1, 3)
    store.insert_frames(video.id, indexed.frames, indexed.image_vectors)
    progress("index", 2, 3)
    # The video's vectors from those of its rows, at hand: no query back (Milvus Lite scans
    # rows not yet flushed one by one).
    VideoIndex(store).put_vectors(video.id, {"image": indexed.image_vectors, "text": indexed.text_vectors})
    store.commit_video(video)  # the commit marker: from here on the video is visible
    progress("index", 3, 3)
    return video


def duration(info, packet_list, audio_s: float | None) -> float:
    """The container's duration, or else the video packets' end, or else the decoded audio's."""
    if info.duration_s:
        return info.duration_s
    if packet_list:
        time_base, packets = packet_list
        return max(float((p.pts + p.duration) * time_base) for p in packets) - info.start_s
    return audio_s or 0.0
