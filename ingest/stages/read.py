"""The read stage: what is written on screen (slides, code, signs, burnt-in captions), by OCR on
the sampled frames, on any CPU and with no VLM.

Each frame's text comes out as lines in reading order (ingest/ocr.py); a frame that looks like
the one before it (a still slide) keeps its lines without being read again. Consecutive frames that
show the same text make one row spanning all of them: a slide on screen for 40 s is one row, not
eight. A frame with a line the row lacks (a bullet appears, the slide changes) starts a new row
there, so search lands where the words first show; a frame that shows only some of the row's
lines (one was misread, or covered) continues it. Rows go beside the transcript in the text
collection (source "screen"), embedded with the text model, so dense and BM25 search find them.

Like describe, nothing here fails an ingest: an engine that is missing (with VIDRAG_OCR=on) or
that fails on a frame leaves one warning line, and `vidrag read` fills the video in later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from ingest.ocr import OCRError, engine_installed, engine_label, load_reader
from rag.errors import first_line
from rag.languages import guess_language
from rag.settings import Settings
from rag.store import MAX_TEXT, Store
from rag.types import Chunk, Frame, Segment

NAME = "read"
SOURCE = "screen"
# Two readings of one line, frame to frame, differ by an OCR slip or two: this similar (difflib's
# ratio, 0..1) they are the same line. A new bullet shares far less with any line above it.
SAME_LINE = 0.85
# A frame that looks like the one before is not read again: its text is the same. "Looks like":
# on 320x180 grayscale thumbnails, fewer than SAME_PICTURE_PIXELS pixels differ by more than
# SAME_PICTURE_LEVEL (of 255). Two samples of a still slide differ by at most ~15 (the encoder's
# noise); a bullet of 40 px text coming in changes ~1,000 pixels, one 22 px word ~30.
THUMBNAIL = (320, 180)
SAME_PICTURE_LEVEL = 40
SAME_PICTURE_PIXELS = 8

Progress = Callable[[int, int], None]  # (frames done, frames to do)


@dataclass
class ReadOutcome:
    frames: int = 0  # frames read
    rows: int = 0  # screen-text rows written
    skipped: str = ""  # why no frame was read (off, no engine), or ""
    warning: str = ""  # one line when some frames could not be read, or ""
    vectors: list = field(default_factory=list)  # the text vectors of the rows written
    engine: str = ""  # what read every frame, when all were read ("" otherwise)
    starts: list[int] = field(default_factory=list)  # the first frame of each row written


def read_mode_skip(settings: Settings) -> str:
    """Why the read stage should not run ("" when it should): off, or no engine installed.
    With VIDRAG_OCR=on a missing engine is a warning; with auto, it is just skipped."""
    if settings.ocr == "off":
        return "VIDRAG_OCR=off"
    if not engine_installed():
        return "no OCR engine installed (pip install rapidocr onnxruntime)"
    return ""


def read_video(settings: Settings, store: Store, text_model, video_id: str, frames: Sequence[Frame],
               progress: Progress | None = None) -> ReadOutcome:
    """Read every frame of one video and write its screen-text rows."""
    progress = progress or (lambda done, total: None)
    outcome = ReadOutcome()
    try:
        reader = load_reader(settings.ocr_max_side, settings.ocr_min_confidence)
    except OCRError as e:
        outcome.warning = f"screen text not read: {e}"
        return outcome
    lines: list[list[str]] = []
    failed, first_error = 0, ""
    previous = None  # the last frame's thumbnail
    progress(0, len(frames))
    for number, frame in enumerate(frames):
        try:
            thumbnail = _thumbnail(frame.path)
            if previous is not None and lines and same_picture(previous, thumbnail):
                lines.append(lines[-1])  # a still slide: the same words, for a fraction of the cost
            else:
                lines.append([line.text for line in reader.read(frame.path)])
            previous = thumbnail
        except Exception as e:  # a frame the engine can't take: the others still count
            lines.append([])
            failed += 1
            first_error = first_error or first_line(e)
            previous = None
        progress(number + 1, len(frames))
    outcome.frames = len(frames)
    rows = screen_rows(frames, lines, 1.0 / settings.frame_fps)
    if rows:
        # Each row's vector, and one per line: search narrows a hit on a busy slide to the line
        # that matched, as it narrows a transcript chunk to its sentence.
        lines_of = [chunk.segments for _, chunk in rows]
        vectors = text_model.embed([chunk.text for _, chunk in rows] + [s.text for segs in lines_of for s in segs])
        outcome.vectors = list(vectors[: len(rows)])
        at, line_vectors = len(rows), []
        for segments in lines_of:
            line_vectors.append(vectors[at : at + len(segments)])
            at += len(segments)
        # Slides say their own language, often not the talk's.
        store.insert_frame_text(video_id, SOURCE, rows, outcome.vectors, line_vectors,
                                [guess_language(chunk.text) for _, chunk in rows])
    outcome.rows, outcome.starts = len(rows), [number for number, _ in rows]
    if failed:
        outcome.warning = f"{failed} of {len(frames)} frames not read ({first_error}); `vidrag read` retries"
    else:
        outcome.engine = engine_label()
    return outcome


def screen_rows(frames: Sequence[Frame], lines: Sequence[Sequence[str]], interval_s: float
                ) -> list[tuple[int, Chunk]]:
    """(first frame's number, row) for each run of frames showing the same text. A row spans
    from its first frame to the frame after its last (one interval past the video's last frame);
    its text is the first frame's lines, one per line of text, each line a segment over the
    row's time. Pure."""
    rows: list[tuple[int, Chunk]] = []
    start = last = 0
    current: list[str] = []

    def close() -> None:
        if current:
            begin = frames[start].timestamp_s
            end = frames[last + 1].timestamp_s if last + 1 < len(frames) else frames[last].timestamp_s + interval_s
            text = "\n".join(current)[:MAX_TEXT]
            rows.append((start, Chunk(begin, end, text, tuple(Segment(begin, end, line) for line in current))))

    for number, found in enumerate(lines):
        if current and found and all(any(_same_line(line, have) for have in current) for line in found):
            last = number
            continue
        close()
        current, start, last = list(found), number, number
    close()
    return rows


def _thumbnail(path: str):
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L").resize(THUMBNAIL, Image.BILINEAR), dtype=np.int16)


def same_picture(a, b) -> bool:
    """Whether two thumbnails show the same picture, up to the encoder's noise. Pure."""
    import numpy as np

    return a.shape == b.shape and int(np.count_nonzero(np.abs(a - b) > SAME_PICTURE_LEVEL)) < SAME_PICTURE_PIXELS


def _same_line(a: str, b: str) -> bool:
    a, b = a.casefold(), b.casefold()
    return a == b or SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_LINE


def run(work) -> None:
    """The stage: the frames' text, as rows (invisible until the commit)."""
    skipped = read_mode_skip(work.settings) if work.frames else "no frames"
    if skipped:
        if work.settings.ocr == "on" and work.frames:
            work.warnings.append(f"screen text not read: {skipped}")
        return
    outcome = read_video(work.settings, work.store, work.text_model, work.video_id, work.frames,
                         progress=work.reporter(NAME))
    work.screen_vectors, work.screen_read = outcome.vectors, outcome.engine
    if outcome.warning:
        work.warnings.append(outcome.warning)
