"""Domain types. Timestamps are float seconds from the start of the media, end to end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Segment:
    """A stretch of transcript: what was said between two times."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Chunk:
    """Consecutive segments embedded together. The segments keep their own times, so a
    hit on the chunk can be narrowed down to the segment that matched."""

    start_s: float
    end_s: float
    text: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Frame:
    """A sampled frame, saved as JPEG, at its true presentation timestamp."""

    timestamp_s: float
    path: str


@dataclass(frozen=True)
class Transcript:
    segments: tuple[Segment, ...]
    language: str  # ISO code, or "" when unknown
    source: str  # "whisper", "sidecar:<file name>", "embedded", or "none"


@dataclass
class Video:
    """A media file in the library. The id is a hash of its bytes, not its name."""

    id: str
    name: str
    file: str
    duration_s: float
    frames: int = 0
    text_chunks: int = 0
    language: str = ""
    transcript_source: str = "none"
    has_video: bool = True
    created: str = ""  # ISO 8601, UTC
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)
