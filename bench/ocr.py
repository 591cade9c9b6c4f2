"""Reading the screen: OCR engines side by side on the eval deck, the read stage's cost per frame
with and without text, and what it adds to a whole ingest (Big Buck Bunny, a 10-minute deck).

Engines, on the same pictures in one run:
- rapidocr (the pinned one) as ingest/ocr.py runs it: the detector at VIDRAG_OCR_MAX_SIDE;
- rapidocr with its own default detector size (shortest side 736, which upscales 720p);
- Tesseract 5 (Debian's tesseract-ocr, the CLI), where it is installed.
A phrase counts as read when its words appear, in order, in the engine's text for its picture.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.media import shared_media

_WORDS = re.compile(r"[\w]+")


def _words(text: str) -> str:
    return " ".join(w.lower() for w in _WORDS.findall(text))


def _deck_pictures(folder: Path) -> list[tuple[Path, list[str], bool]]:
    """The deck's pictures with their phrases (title and lines showing), and whether it is the
    text-over-noise slide."""
    from evals.slides import render, timeline

    pictures = []
    for number, shown in enumerate(timeline()):
        path = folder / f"slide{number}.png"
        render(shown.slide, shown.lines, seed=number).save(path)
        pictures.append((path, [shown.slide.title, *(line.text for line in shown.lines)], shown.slide.noise))
    return pictures


def _plain_pictures(folder: Path) -> list[Path]:
    """Frames without text: Big Buck Bunny every 5 s (where the shared media are), and a test card."""
    from ingest.ffmpeg import run_ffmpeg

    paths = []
    bunny = shared_media("big_buck_bunny_0_30.webm")
    if bunny is not None:
        for at in range(0, 30, 5):
            path = folder / f"bunny{at}.jpg"
            run_ffmpeg(["-y", "-ss", str(at), "-i", str(bunny), "-frames:v", "1", "-q:v", "3", str(path)], "a frame")
            paths.append(path)
    path = folder / "gradient.jpg"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "gradients=s=1280x720:seed=3", "-frames:v", "1", str(path)], "a frame")
    return [*paths, path]


def _rapidocr(max_side: int | None):
    from ingest.ocr import kept_lines
    from rag.settings import Settings

    floor = Settings(_env_file=None).ocr_min_confidence
    if max_side is not None:
        from ingest.ocr import load_reader

        reader = load_reader(max_side, floor)
        return lambda path: [line.text for line in reader.read(str(path))]
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error", "Global.use_cls": False, "Global.text_score": floor})

    def read(path):
        result = engine(str(path))
        return [line.text for line in kept_lines(result.txts or (), result.scores or (),
                                                 result.boxes if result.txts else (), floor)]

    return read


def _tesseract(path: Path) -> list[str]:
    done = subprocess.run(["tesseract", str(path), "-", "--psm", "3"], capture_output=True, text=True, check=True)
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def compare_engines() -> dict:
    from rag.settings import Settings

    max_side = Settings(_env_file=None).ocr_max_side
    engines = {f"rapidocr, detector at {max_side} px (pinned)": _rapidocr(max_side),
               "rapidocr, its default detector size": _rapidocr(None)}
    if shutil.which("tesseract"):
        engines["tesseract " + subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
                .stdout.split()[1]] = _tesseract
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as folder:
        slides, plain = _deck_pictures(Path(folder)), _plain_pictures(Path(folder))
        for name, read in engines.items():
            read(slides[0][0])  # loads the models
            text_ms, plain_ms, found, total, noise_found, noise_total, spurious = [], [], 0, 0, 0, 0, 0
            for path, phrases, noise in slides:
                start = time.perf_counter()
                text = _words(" ".join(read(path)))
                text_ms.append((time.perf_counter() - start) * 1000)
                hits = sum(1 for phrase in phrases if _words(phrase) in text)
                found, total = found + hits, total + len(phrases)
                if noise:
                    noise_found, noise_total = noise_found + hits, noise_total + len(phrases)
            for path in plain:
                start = time.perf_counter()
                spurious += len(read(path))
                plain_ms.append((time.perf_counter() - start) * 1000)
            results[name] = {
                "phrases_read": f"{found}/{total}", "over_noise_read": f"{noise_found}/{noise_total}",
                "ms_per_text_frame": round(statistics.median(text_ms)),
                "ms_per_frame_without_text": round(statistics.median(plain_ms)),
                "lines_read_on_frames_without_text": spurious,
                "pictures": {"slides": len(slides), "without_text": len(plain)},
            }
    return results


def _ingest(video: Path, ocr: str) -> dict:
    from bench import ingest

    os.environ["VIDRAG_OCR"] = ocr
    return ingest.run(str(video))


def ingest_overhead(video: Path, repeats: int = 2) -> dict:
    """Whole-ingest wall time with the read stage off and on, alternating (the machine is
    noisy), after one warm-up ingest that loads the models; the best of each."""
    _ingest(video, "off")
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for _ in range(repeats):
        for ocr in ("off", "on"):
            runs[ocr].append(_ingest(video, ocr))
    off = min(r["wall_s"] for r in runs["off"])
    on = min(runs["on"], key=lambda r: r["wall_s"])
    return {"video": video.name, "duration_s": on["duration_s"], "frames": on["frames"],
            "wall_s_without_read": off, "wall_s_with_read": on["wall_s"],
            "read_stage_s": on["stage_s"]["read"], "overhead": f"{(on['wall_s'] - off) / off:+.0%}",
            "read_ms_per_frame": round(on["stage_s"]["read"] * 1000 / max(1, on["frames"]))}


def run(minutes: float = 10.0) -> dict:
    from evals.slides import build, long_deck

    result = {"engines": compare_engines()}
    bunny = shared_media("big_buck_bunny_0_30.webm")
    if bunny is not None:
        result["bunny"] = ingest_overhead(bunny)
    with tempfile.TemporaryDirectory(prefix="bench-ocr-deck-") as folder:
        video, _ = build(Path(folder), long_deck(minutes), name=f"deck_{minutes:g}min")
        result["slide_deck"] = ingest_overhead(video, repeats=1)
    os.environ.pop("VIDRAG_OCR", None)
    return result
