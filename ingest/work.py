"""One file on its way through the ingest stages: what the stages read, and what each adds.

The pipeline (ingest/pipeline.py) makes a Work for a probed file, hands it to each stage of
ingest/stages/ in turn, and then writes what they made, the registry row last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.probe import MediaInfo
from rag.settings import Settings
from rag.types import Chunk, Frame, Transcript

Progress = Callable[[str, float, float], None]  # (stage, done, total), as work advances


@dataclass
class Work:
    # What the pipeline gives every stage.
    settings: Settings
    store: object  # rag.store.Store
    device: str
    video_id: str
    path: Path  # the library's working copy: every stage reads this
    original: Path  # the user's file: sidecar subtitles are found beside it
    info: MediaInfo
    packet_list: object  # (time base, packets) of the video stream, or None
    subtitles: Path | None  # a subtitle file given with the upload, or None (look for a sidecar)
    text_model: object
    clip: object | None  # None for audio
    progress: Progress
    notify: Callable[[str], None] | None = None
    # Runs pieces of this file on Ray workers at once (ingest/distributed/), or None: here.
    fan_out: Callable[[Callable, list], list] | None = None
    pieces: int = 0  # how many were run that way
    # What the stages add, in the order they run.
    frames: list[Frame] = field(default_factory=list)
    screen_vectors: list = field(default_factory=list)  # text vectors of the screen-text rows written
    screen_read: str = ""  # the OCR engine that read every frame, or "" (not run, or some frames failed)
    described: int = 0  # frames the VLM described
    not_described: str = ""  # why no frame was sent to be described, or ""
    description_vectors: list = field(default_factory=list)  # text vectors of the descriptions written
    transcript: Transcript = field(default_factory=lambda: Transcript((), "", "none"))
    audio_s: float | None = None  # how much audio Whisper decoded, when it ran
    speakers: int = 0  # voices told apart in the transcript (0: none, or the stage did not run)
    chunks: list[Chunk] = field(default_factory=list)
    chunk_vectors: list = field(default_factory=list)
    segment_vectors: list = field(default_factory=list)  # per chunk, one vector per segment
    image_vectors: list = field(default_factory=list)  # per frame
    frame_tags: list[list[str]] = field(default_factory=list)
    tags: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # one line each, for the user

    def map(self, function: Callable, items: list, on_done: Callable[[int], None] | None = None) -> list:
        """`function(settings, device, item)` for each item, in order: here one after another, or
        on Ray workers at once. `function` is a module-level function (Ray sends it by name) that
        loads its models through rag.models, once per process. `on_done` hears how many are done
        (here only: a Ray worker reports no progress)."""
        if self.fan_out is not None and len(items) > 1:
            self.pieces += len(items)
            return self.fan_out(function, items)
        results = []
        for item in items:
            results.append(function(self.settings, self.device, item))
            if on_done:
                on_done(len(results))
        return results

    def reporter(self, stage: str) -> Callable[[float, float], None]:
        """Progress of one stage, as (done, total)."""
        return lambda done, total: self.progress(stage, done, total)
