"""Domain types. Timestamps are float seconds from the start of the media, end to end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Word:
    """One word Whisper heard, with its times (from the model's alignment heads). Its text is
    Whisper's, leading space included where the language puts one, so words join with ""."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Segment:
    """A stretch of transcript: what was said between two times, and by whom ("S1", "S2"... in
    order of first speech, or "" when speakers are not known)."""

    start_s: float
    end_s: float
    text: str
    speaker: str = ""
    # Whisper's words, while the ingest runs (the speakers stage splits segments with them); not stored.
    words: tuple[Word, ...] = field(default=(), compare=False, repr=False)


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
    tags: list[dict] = field(default_factory=list)  # [{"tag", "share"}]: the video's top zero-shot tags
    frame_tags: list[list[str]] = field(default_factory=list)  # each frame's tags, in frame order
    speakers: int = 0  # voices the speakers stage told apart (0: not run, or no speech)
    speaker_names: dict[str, str] = field(default_factory=dict)  # label -> the name a user gave it

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Moment:
    """A stretch of one video that answers a question: its time range is as narrow as the
    evidence (the matching segments, or the window of a matching frame)."""

    video_id: str
    video_name: str
    start_s: float
    end_s: float
    text: str
    frame: Frame | None
    score: float
    signals: tuple[str, ...]  # which searches found it: "dense", "bm25", "clip", "image"
    seen: str = ""  # what the frames in its range show: their descriptions ("said" is `text`)
    screen: str = ""  # what is written on screen in its range (OCR)
    speakers: tuple[str, ...] = ()  # who speaks in its range, by their names (or labels), in order

    def to_json(self) -> dict:
        return {
            "video_id": self.video_id,
            "video_name": self.video_name,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "text": self.text,
            "frame_path": self.frame.path if self.frame else None,
            "frame_s": round(self.frame.timestamp_s, 3) if self.frame else None,
            "score": round(self.score, 6),
            "signals": list(self.signals),
            "seen": self.seen,
            "screen": self.screen,
            "speakers": list(self.speakers),
        }


@dataclass(frozen=True)
class Citation:
    """A time the answer cites, and the retrieved moment it maps to, if any."""

    label: str  # as written in the answer, e.g. "[01:05]"
    start_s: float
    video_id: str | None  # None when it matches no retrieved moment
    supported: bool

    def to_json(self) -> dict:
        return {"video_id": self.video_id, "start_s": round(self.start_s, 3), "supported": self.supported,
                "label": self.label}
