"""The slide-deck suite: a silent lecture of Pillow-drawn slides, and questions that are exact
phrases on them, each with the window in which it is on screen.

    python -m evals.slides OUT_DIR            # OUT_DIR/slide_deck.mp4 and slide_deck.jsonl
    python -m evals.slides OUT_DIR --minutes 10   # a longer deck, for the benchmarks
    vidrag add OUT_DIR/slide_deck.mp4
    vidrag eval OUT_DIR/slide_deck.jsonl

The slides vary what makes OCR hard: fonts (sans, serif, mono, bold), sizes (22 to 72 px),
colours, light and dark backgrounds, a code slide, text over noise, and a bullet that appears
while its slide is already up. Slide changes don't fall on the 5 s frame grid, as in a real
talk, so a phrase is first sampled up to one frame interval after it appears: each line of the
suite says so (`start_within_s`), and is as wide as its slide (`max_width_s`).
Titles carry "group": "title" and should rank first; the rest are "phrase".
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ingest.ffmpeg import run_ffmpeg

NAME = "slide_deck"
SIZE = (1280, 720)
FRAME_INTERVAL_S = 5.0  # VIDRAG_FRAME_FPS=0.2, the default
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core
FONTS = {"sans": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "serif": "DejaVuSerif.ttf",
         "mono": "DejaVuSansMono.ttf"}


@dataclass(frozen=True)
class Line:
    text: str
    size: int = 40
    font: str = "sans"
    appears_after_s: float = 0.0  # into the slide: a bullet that comes in while the slide is up


@dataclass(frozen=True)
class Slide:
    title: str
    lines: tuple[Line, ...]
    seconds: float
    background: tuple[int, int, int] = (255, 255, 255)
    ink: tuple[int, int, int] = (20, 20, 20)
    title_ink: tuple[int, int, int] | None = None
    title_font: str = "bold"
    title_size: int = 64
    noise: bool = False


SLIDES = (
    Slide("Introduction to Signal Processing", (Line("Lecture three on Fourier transforms", 40, "serif"),
                                                 Line("Doctor Ada Whitfield", 30)), 12),
    Slide("The Sampling Theorem", (Line("Nyquist rate is twice the highest frequency"),
                                   Line("Aliasing folds high frequencies down")), 18,
          background=(18, 32, 64), ink=(235, 235, 235)),
    Slide("Python Example", (Line("import numpy as np", 34, "mono"),
                             Line("spectrum = np.fft.rfft(samples)", 34, "mono"),
                             Line("peak = spectrum.argmax()", 34, "mono")), 16,
          background=(30, 30, 30), ink=(140, 220, 140), title_ink=(240, 240, 240), title_font="mono", title_size=56),
    Slide("Window Functions", (Line("Hann window reduces spectral leakage"),
                               Line("Blackman window trades resolution for sidelobes", appears_after_s=17)), 33),
    Slide("Spectral Leakage Explained", (Line("energy spreads into neighbouring bins", 44, "bold"),), 14, noise=True,
          ink=(0, 0, 0)),
    Slide("Convolution Theorem", (Line("multiplication in the frequency domain", 40),
                                  Line("is convolution in time", 40, "serif")), 22,
          background=(255, 236, 150), ink=(20, 100, 40), title_ink=(170, 20, 20), title_font="serif", title_size=60),
    Slide("Filter Design Basics", (Line("cutoff frequency at the three decibel point", 26),
                                   Line("passband ripple stays under half a decibel", 22)), 17,
          title_size=48),
    Slide("Questions and Discussion", (Line("office hours on Thursday afternoon", 36, "serif"),), 11,
          background=(60, 20, 70), ink=(255, 220, 120), title_size=72),
)


@dataclass
class Shown:
    """One picture of the deck, on screen from `start_s` for `seconds`."""

    start_s: float
    seconds: float
    slide: Slide
    lines: list[Line] = field(default_factory=list)


def _font(name: str, size: int):
    from PIL import ImageFont

    path = FONT_DIR / FONTS[name]
    # Without DejaVu (not Debian), Pillow's own scalable font: one face, but every size.
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size=size)


def render(slide: Slide, lines: list[Line], seed: int = 0):
    """One picture of a slide with these of its lines showing."""
    from PIL import Image, ImageDraw

    if slide.noise:
        import numpy as np

        rng = np.random.default_rng(seed)
        pixels = rng.integers(110, 256, size=(SIZE[1], SIZE[0], 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    else:
        image = Image.new("RGB", SIZE, slide.background)
    draw = ImageDraw.Draw(image)
    draw.text((80, 70), slide.title, fill=slide.title_ink or slide.ink, font=_font(slide.title_font, slide.title_size))
    y = 110 + slide.title_size + 40
    for line in lines:
        draw.text((110, y), line.text, fill=slide.ink, font=_font(line.font, line.size))
        y += int(line.size * 1.9)
    return image


def timeline(slides: tuple[Slide, ...] = SLIDES) -> list[Shown]:
    """Every picture the deck shows, in order: a slide with a late bullet is two pictures."""
    shown, at = [], 0.0
    for slide in slides:
        changes = sorted({0.0, *(line.appears_after_s for line in slide.lines)})
        for i, change in enumerate(changes):
            until = changes[i + 1] if i + 1 < len(changes) else slide.seconds
            lines = [line for line in slide.lines if line.appears_after_s <= change]
            shown.append(Shown(at + change, until - change, slide, lines))
        at += slide.seconds
    return shown


def long_deck(minutes: float) -> tuple[Slide, ...]:
    """The deck repeated with numbered titles until it lasts `minutes` (for the benchmarks)."""
    slides, total, round_ = [], 0.0, 0
    while total < minutes * 60:
        round_ += 1
        for slide in SLIDES:
            slides.append(Slide(**{**slide.__dict__, "title": f"{slide.title} part {round_}"}))
            total += slide.seconds
    return tuple(slides)


def questions(video_name: str, slides: tuple[Slide, ...] = SLIDES) -> list[dict]:
    """One question per title and per line: the exact phrase, visible from its first
    appearance to the end of its slide."""
    cases, at = [], 0.0
    for slide in slides:
        end = at + slide.seconds
        window = {"video": video_name, "start_within_s": FRAME_INTERVAL_S,
                  "max_width_s": slide.seconds + FRAME_INTERVAL_S}
        cases.append({"question": slide.title, "start_s": at, "end_s": end, "group": "title", **window})
        for line in slide.lines:
            cases.append({"question": line.text, "start_s": at + line.appears_after_s, "end_s": end,
                          "group": "phrase", **window})
        at = end
    return cases


def build(out_dir: Path, slides: tuple[Slide, ...] = SLIDES, name: str = NAME) -> tuple[Path, Path]:
    """The silent deck video and its suite, in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    video, suite = out_dir / f"{name}.mp4", out_dir / f"{name}.jsonl"
    with tempfile.TemporaryDirectory(prefix="vidrag-slides-") as folder:
        listing = []
        for number, picture in enumerate(timeline(slides)):
            path = Path(folder) / f"{number:04d}.png"
            render(picture.slide, picture.lines, seed=number).save(path)
            listing += [f"file '{path}'", f"duration {picture.seconds:g}"]
        listing.append(listing[-2])  # the concat demuxer holds the last picture only if it is listed again
        total = sum(slide.seconds for slide in slides)  # ... and then holds it too long: -t cuts it
        (Path(folder) / "deck.txt").write_text("\n".join(listing) + "\n", encoding="utf-8")
        run_ffmpeg(["-y", "-f", "concat", "-safe", "0", "-i", str(Path(folder) / "deck.txt"),
                    "-vf", "fps=5,format=yuv420p", "-t", f"{total:g}", "-c:v", "libx264", "-g", "25", "-an",
                    str(video)],
                   f"building {video.name}")
    suite.write_text("".join(json.dumps(line) + "\n" for line in questions(video.name, slides)), encoding="utf-8")
    return video, suite


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Build the slide-deck eval suite.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--minutes", type=float, help="a longer deck of repeated slides, for the benchmarks")
    args = parser.parse_args()
    deck = long_deck(args.minutes) if args.minutes else SLIDES
    for built in build(args.out_dir, deck, NAME if not args.minutes else f"{NAME}_{args.minutes:g}min"):
        print(built)
