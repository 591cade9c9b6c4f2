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
READ_BATCH = 32  # frames a piece, when a long video's frames are read on Ray


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
               progress: Progress | None = None, pieces=None) -> ReadOutcome:
    """Read every frame of one video and write its screen-text rows. `pieces` (Work.map, on Ray)
    reads batches of frames at once; the rows are the same as read here one after another."""
    progress = progress or (lambda done, total: None)
    outcome = ReadOutcome()
    try:
        reader = load_reader(settings.ocr_max_side, settings.ocr_min_confidence)
    except OCRError as e:
        outcome.warning = f"screen text not read: {e}"
        return outcome
    progress(0, len(frames))
    paths = [frame.path for frame in frames]
    if pieces is None:
        read = _read_frames(reader, paths, None, lambda done: progress(done, len(frames)))
    else:  # a long video on Ray: a batch of frames a piece, each batch told the frame before it
        batches = [(paths[i : i + READ_BATCH], paths[i - 1] if i else None) for i in range(0, len(paths), READ_BATCH)]
        read = [entry for batch in pieces(read_frames, batches) for entry in batch]
    lines: list[list[str]] = []
    failed, first_error, last_failed = 0, "", False
    for found, error, carried in read:
        if carried and lines and not last_failed:
            lines.append(lines[-1])  # a still slide: the same words, for a fraction of the cost
            last_failed = False
            continue
        lines.append(found)
        last_failed = bool(error)
        if error:
            failed += 1
            first_error = first_error or error
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


def read_frames(settings: Settings, device: str, piece) -> list[tuple[list[str], str, bool]]:
    """(frame paths, the path of the frame before them or None): each frame's lines (a piece of
    the stage, wherever it runs). See _read_frames."""
    paths, before = piece
    return _read_frames(load_reader(settings.ocr_max_side, settings.ocr_min_confidence), paths, before)


def _read_frames(reader, paths: Sequence[str], before: str | None,
                 on_frame: Callable[[int], None] | None = None) -> list[tuple[list[str], str, bool]]:
    """(lines, error or "", carried) for each frame: `carried` says it looks like the frame
    before it, whose lines it then has without being read, except the first, which is read
    anyway (the lines before it are another piece's). A frame that fails has no lines and its
    error, and the next one is read."""
    previous = None  # the last frame's thumbnail
    if before:
        try:
            previous = _thumbnail(before)
        except Exception:  # that frame failed in its own piece too
            previous = None
    read: list[tuple[list[str], str, bool]] = []
    for path in paths:
        try:
            thumbnail = _thumbnail(path)
            carried = previous is not None and same_picture(previous, thumbnail)
            if carried and read:
                read.append((read[-1][0], "", True))
            else:
                read.append(([line.text for line in reader.read(path)], "", carried))
            previous = thumbnail
        except Exception as e:  # a frame the engine can't take: the others still count
            read.append(([], first_line(e), False))
            previous = None
        if on_frame:
            on_frame(len(read))
    return read


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
                         progress=work.reporter(NAME), pieces=work.map if work.fan_out is not None else None)
    work.screen_vectors, work.screen_read = outcome.vectors, outcome.engine
    if outcome.warning:
        work.warnings.append(outcome.warning)
