"""What is written in a picture: RapidOCR's PP-OCR models on onnxruntime, on any CPU.

The `rapidocr` wheel ships its detection and recognition models (PP-OCRv6 small, ~30 MB), so
nothing downloads at run time. BENCHMARKS.md ("Reading the screen") compares it with Tesseract
on the eval deck: as accurate on plain slides, it alone reads text over noise, and it is faster.

A picture goes through the detector first (a small network over the whole frame, downscaled to
VIDRAG_OCR_MAX_SIDE); only the boxes it finds go to the recognizer, so a frame without text
costs one detector pass. The reader is loaded once per process, on first use.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache

from rag.errors import VidragError, first_line

ENGINE = "rapidocr"  # the package; its models come inside it
# A line with fewer letters is a detector's smudge, or numbers alone: a clock, a counter, a page
# number, which change from frame to frame (a test pattern's clock made every frame a row of its
# own) and hold no word to search by.
MIN_LETTERS = 2


class OCRError(VidragError):
    """The OCR engine is missing or failed to load."""


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float  # the recognizer's, 0..1
    box: tuple[float, float, float, float]  # left, top, right, bottom, in pixels


def engine_installed() -> bool:
    """Whether the OCR engine and its runtime are importable (VIDRAG_OCR=auto runs only then)."""
    return all(importlib.util.find_spec(name) is not None for name in (ENGINE, "onnxruntime"))


def engine_label() -> str:
    """What reads the screen, with its version, as recorded on each video read with it."""
    from importlib.metadata import version

    return f"{ENGINE} {version(ENGINE)}"


class ScreenReader:
    """Lines of text in a picture, in reading order, each above the confidence floor."""

    def __init__(self, max_side: int, min_confidence: float):
        if not engine_installed():
            raise OCRError("the OCR engine is not installed (pip install rapidocr onnxruntime), "
                           "or set VIDRAG_OCR=off")
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # it logs every model it loads
        try:
            self._engine = RapidOCR(params={
                "Global.log_level": "error",
                "Global.text_score": min_confidence,
                # Slides and screens are upright; the 180-degree classifier only costs time.
                "Global.use_cls": False,
                # The longest side the detector sees: 960 px finds 22 px text on a 1280x720
                # frame and costs a third of the engine's default (shortest side 736, upscaling).
                "Det.limit_side_len": max_side,
                "Det.limit_type": "max",
            })
        except Exception as e:
            raise OCRError(f"cannot load the OCR engine: {first_line(e)}") from e
        self.min_confidence = min_confidence
        self._lock = threading.Lock()  # one onnxruntime session per model, used by one caller at a time

    def read(self, image) -> list[TextLine]:
        """The lines in `image` (a path or an RGB array), top to bottom, left to right."""
        with self._lock:
            result = self._engine(image)
        return kept_lines(result.txts or (), result.scores or (), result.boxes if result.txts else (),
                          self.min_confidence)


def kept_lines(texts, scores, boxes, min_confidence: float) -> list[TextLine]:
    """The engine's lines (text, score, four corner points each) that hold words and are at
    least as confident as the floor, in reading order."""
    lines = []
    for text, score, box in zip(texts, scores, boxes, strict=True):
        text = " ".join(str(text).split())
        if float(score) < min_confidence or sum(ch.isalpha() for ch in text) < MIN_LETTERS:
            continue
        xs, ys = [float(p[0]) for p in box], [float(p[1]) for p in box]
        lines.append(TextLine(text, float(score), (min(xs), min(ys), max(xs), max(ys))))
    return reading_order(lines)


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Rows top to bottom, each row left to right. Boxes whose vertical middles lie within half
    a line's height of a row's first box belong to that row (two columns of one line)."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda item: item.box[1]):
        middle = (line.box[1] + line.box[3]) / 2
        if rows:
            first = rows[-1][0]
            if abs(middle - (first.box[1] + first.box[3]) / 2) <= (first.box[3] - first.box[1]) / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box[0])]


@lru_cache(maxsize=4)
def load_reader(max_side: int, min_confidence: float) -> ScreenReader:
    """The reader for these settings, made once per process."""
    return ScreenReader(max_side, min_confidence)
