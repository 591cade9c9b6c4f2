"""`vidrag describe`: descriptions and tags for videos indexed without them (no VLM was
up, or they predate the feature), or again for all with --force.

Idempotent and resumable: only frames without a description row are sent, each row is written
whole as its request completes, and tags are written with the video's registry row in one upsert.
A second run finds nothing missing and changes nothing; a killed run keeps every finished row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.stages.describe import describe_video
from ingest.stages.tags import tag_video
from rag.models import load_clip_embedder, load_text_embedder
from rag.store.videos import VideoIndex
from rag.types import Video

STAGES = ("describe", "tags")  # what `progress` reports, in order


@dataclass
class BackfillResult:
    video: Video
    frames: int
    described: int  # frames with a description now
    newly_described: int
    tagged: bool  # tags written in this run
    warning: str = ""


def backfill(ingestor, video: Video, force: bool = False,
             progress: Callable[[str, float, float], None] | None = None) -> BackfillResult:
    """Describe (and tag) what one video lacks; with `force`, redo both."""
    store, settings = ingestor.store, ingestor.settings
    progress = progress or (lambda stage, done, total: None)
    frames = store.frames(video.id)
    have = store.described_frames(video.id)
    missing = list(range(len(frames))) if force else [n for n in range(len(frames)) if n not in have]
    outcome = None
    if missing:
        text_model = load_text_embedder(settings.text_model, ingestor.device, ingestor.notify)
        store.check_model("text", text_model.name, text_model.dim)
        outcome = describe_video(settings, store, text_model, video.id, frames, numbers=missing,
                                 progress=lambda done, total: progress(STAGES[0], done, total))
        if outcome.described:  # the video's text vector averages its descriptions too
            VideoIndex(store).refresh(video.id)
    tagged = False
    if frames and (force or len(video.frame_tags) != len(frames)):
        progress(STAGES[1], 0, 1)
        clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, ingestor.device, ingestor.notify)
        store.check_model("image", clip.name, clip.dim)
        video.frame_tags, video.tags = tag_video(settings, clip, store.frame_vectors(video.id))
        store.commit_video(video)  # the registry row, rewritten whole with its tags
        tagged = True
        progress(STAGES[1], 1, 1)
    described = len(store.described_frames(video.id)) if missing else len(have)
    return BackfillResult(video, len(frames), described, outcome.described if outcome else 0, tagged,
                          outcome.warning if outcome else "")
