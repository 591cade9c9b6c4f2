"""`vidrag describe` and `vidrag read`: descriptions and tags, or screen text, for videos
indexed without them (no VLM was up, no OCR engine, or they predate the feature), or again for
all with --force.

Idempotent and resumable: describe sends only frames without a description row and writes each
row whole as its request completes; tags and the read marker are written with the video's
registry row in one upsert. A second run finds nothing missing and changes nothing; a killed
run keeps every finished row (describe) or every finished video (read: a video's rows are
written once all its frames are read, and rewritten whole by the next run if it was killed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.ocr import OCRError, engine_installed
from ingest.stages.describe import describe_video
from ingest.stages.read import SOURCE as SCREEN
from ingest.stages.read import read_video
from ingest.stages.tags import tag_video
from rag.models import load_clip_embedder, load_text_embedder
from rag.store import TEXT_COLLECTION
from rag.store.videos import VideoIndex
from rag.types import Video

STAGES = ("describe", "tags")  # what `progress` reports, in order
READ_STAGES = ("read",)


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


@dataclass
class ReadResult:
    video: Video
    frames: int
    rows: int  # screen-text rows the video has now
    newly_read: bool  # read in this run (False: it was read before, and not --force)
    warning: str = ""


def read_backfill(ingestor, video: Video, force: bool = False,
                  progress: Callable[[str, float, float], None] | None = None) -> ReadResult:
    """Read the text on screen of one video that was indexed without it; with `force`, again.
    Rows of an earlier reading that the new one doesn't have are removed after it is written."""
    store, settings = ingestor.store, ingestor.settings
    progress = progress or (lambda stage, done, total: None)
    have = store.frame_text_ids(video.id, SCREEN)
    if video.extra.get("screen_read") and not force:
        return ReadResult(video, video.frames, len(have), False)
    if not engine_installed():
        raise OCRError("the OCR engine is not installed (pip install rapidocr onnxruntime)")
    frames = store.frames(video.id)
    text_model = load_text_embedder(settings.text_model, ingestor.device, ingestor.notify)
    store.check_model("text", text_model.name, text_model.dim)
    outcome = read_video(settings, store, text_model, video.id, frames,
                         progress=lambda done, total: progress(READ_STAGES[0], done, total))
    if not outcome.engine:  # some frames failed: keep what was there, say so, retry next time
        return ReadResult(video, len(frames), len(store.frame_text_ids(video.id, SCREEN)), False, outcome.warning)
    store.delete_rows(TEXT_COLLECTION, [row_id for number, row_id in have.items() if number not in outcome.starts])
    if store.get_video(video.id) is None:  # removed while it was read: never bring it back
        return ReadResult(video, len(frames), 0, False, f"{video.name} was removed while it was read")
    video.extra["screen_read"] = outcome.engine
    store.commit_video(video)  # the registry row, rewritten whole with the marker
    VideoIndex(store).refresh(video.id)  # the video's text vector averages its screen text too
    return ReadResult(video, len(frames), outcome.rows, True)
