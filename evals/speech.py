"""The real-speech suite: eight passages spoken by espeak-ng at known times under an ffmpeg test
video, and eight questions that paraphrase them (few of their words are the passage's).

    python -m evals.speech OUT_DIR    # writes OUT_DIR/espeak_speech.mp4 and espeak_speech.jsonl
    vidrag add OUT_DIR/espeak_speech.mp4
    vidrag eval OUT_DIR/espeak_speech.jsonl --signals

Needs the `espeak-ng` program (Debian package espeak-ng). The suite's end times are the spoken
lengths measured from espeak's own output, so they hold for whichever espeak-ng version built it;
evals/espeak_speech.jsonl is this script's output on the machine BENCHMARKS.md names.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from ingest.ffmpeg import run_ffmpeg
from rag.errors import VidragError

NAME = "espeak_speech"
VOICE = "en-us"
WORDS_PER_MINUTE = 165
FIRST_START_S = 3.0
SLOT_S = 12.0  # one passage starts every SLOT_S seconds; the rest of the slot is silence
TAIL_S = 3.0  # silence after the last passage


@dataclass(frozen=True)
class Passage:
    text: str
    question: str
    answer_contains: str


PASSAGES = (
    # The ranking miss: a question about feeding a sourdough starter, beside a passage
    # about watering tomatoes that shares the "what to give it, and when" shape.
    Passage("Every morning I give my sourdough starter a spoon of rye flour and a splash of warm water, "
            "so the yeast stays lively.", "How do I feed my bread culture?", "rye"),
    Passage("The tomatoes on the balcony need a deep soak at the roots every second evening, but never on "
            "their leaves.", "How often should the plants on the terrace get a drink?", "evening"),
    Passage("Our train to Vienna left forty minutes late because a signal failed near the border.",
            "Why was the rail journey delayed?", "signal"),
    Passage("To fix a flat bicycle tyre, lever it off the rim, find the puncture and glue a patch over it.",
            "How do you repair a punctured bike wheel?", "patch"),
    Passage("Children under twelve get into the museum for free, and it opens at nine on weekdays.",
            "Do kids have to pay for the exhibition?", "free"),
    Passage("My grandmother knitted me a red wool scarf for the long winters in the mountains.",
            "Who made the warm thing I wrap around my neck?", "grandmother"),
    Passage("Solar panels on the roof now cover most of the electricity our house uses in summer.",
            "Where does the home's power come from in the warm months?", "solar"),
    Passage("After the match, the goalkeeper said the penalty save was the best moment of her career.",
            "What did the keeper say about stopping the spot kick?", "penalty"),
)


def espeak_exe() -> str:
    found = shutil.which("espeak-ng")
    if not found:
        raise VidragError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    return found


def speak(text: str, path: Path) -> float:
    """`text` spoken into a WAV file; returns its length in seconds."""
    subprocess.run([espeak_exe(), "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(path), text],
                   check=True, capture_output=True)
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def build(out_dir: Path) -> tuple[Path, Path]:
    """The video and its suite, in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / f"{NAME}.mp4"
    suite = out_dir / f"{NAME}.jsonl"
    lines = []
    with tempfile.TemporaryDirectory(prefix="vidrag-espeak-") as folder:
        inputs, delays = [], []
        for number, passage in enumerate(PASSAGES):
            start = FIRST_START_S + number * SLOT_S
            wav = Path(folder) / f"{number}.wav"
            length = speak(passage.text, wav)
            if length > SLOT_S - 1:
                raise VidragError(f"passage {number + 1} takes {length:.1f} s, longer than its slot")
            inputs += ["-i", str(wav)]
            delays.append(f"[{number + 2}:a]adelay={round(start * 1000)}:all=1[a{number}]")
            lines.append({"question": passage.question, "video": video.name, "start_s": start,
                          "end_s": round(start + length, 2), "answer_contains": passage.answer_contains})
        total = FIRST_START_S + len(PASSAGES) * SLOT_S + TAIL_S
        mix = "".join(f"[a{n}]" for n in range(len(PASSAGES)))
        graph = ";".join([*delays, f"[1:a]{mix}amix=inputs={len(PASSAGES) + 1}:normalize=0:duration=first[out]"])
        run_ffmpeg([
            "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=5:duration={total}",
            "-f", "lavfi", "-i", f"anullsrc=r=16000:cl=mono:d={total}", *inputs,
            "-filter_complex", graph, "-map", "0:v", "-map", "[out]",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-shortest", str(video),
        ], f"building {video.name}")
    suite.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return video, suite


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in build(Path(sys.argv[1])):
        print(path)
