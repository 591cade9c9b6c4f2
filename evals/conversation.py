"""The speaker suite: a meeting of three espeak-ng voices that differ in voice, pitch and rate
(twelve turns at known times), and a monologue by one of them.

    python -m evals.conversation OUT_DIR   # OUT_DIR/meeting.mp4, monologue.mp4, espeak_speakers.jsonl
    vidrag add OUT_DIR/meeting.mp4 OUT_DIR/monologue.mp4
    vidrag eval OUT_DIR/espeak_speakers.jsonl

The suite has two kinds of line (rag/speaker_eval.py reads them):
- `{"video": ..., "turns": [[start_s, end_s, voice], ...]}`: who really spoke when;
- `{"question": ..., "video": ..., "start_s": ..., "end_s": ..., "voice": "B"}`: a question asked
  with `--speaker` set to the label that voice got. The questions come in pairs with the same
  words: two voices talk about each subject, and only the speaker filter tells the turns apart.

Needs the `espeak-ng` program (Debian package espeak-ng). Times are measured from espeak's output;
evals/espeak_speakers.jsonl is this script's output on the machine BENCHMARKS.md names.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.audio import SAMPLE_RATE


@dataclass(frozen=True)
class Voice:
    espeak: str  # voice and variant
    pitch: int  # 0..99
    words_per_minute: int


VOICES = {
    "A": Voice("en-us+Michael", 35, 150),
    "B": Voice("en-us+steph", 70, 180),
    "C": Voice("en-gb+edward", 50, 135),
}
LEAD_IN_S = 2.0
GAPS_S = (0.6, 0.4, 0.8, 0.5, 0.7, 0.4, 0.9, 0.5, 0.6, 0.8, 0.5)  # between turns, as people leave them
TAIL_S = 2.0

MEETING = (
    ("A", "Welcome everyone. Today we plan the summer festival in the park, so let us start with the budget."),
    ("B", "I think most of the money should go to the stage and the sound system, because the bands need "
          "good speakers."),
    ("C", "I would rather spend the money on food stalls. People remember the food far more than the music."),
    ("A", "For the date, I suggest the second weekend of July, when the schools are already closed."),
    ("B", "July is fine, but we must book the park before the end of March, or the football club takes it."),
    ("C", "I can call the city office on Monday and reserve the park for both days."),
    ("A", "Good. For the posters, my nephew is a designer and he could draw them for free."),
    ("B", "The posters should also be printed in Spanish, since many families in the area speak it."),
    ("C", "If it rains, we should rent two large tents, so nobody stands in the rain all afternoon."),
    ("A", "Tents are expensive. Maybe the fire station can lend us theirs, as they did three years ago."),
    ("B", "I will ask the bakery on Elm Street to donate bread and cakes for the volunteers."),
    ("C", "Then let us meet again in two weeks to check the bookings and the money."),
)
# (voice asked for, question, the turn that answers it for that voice): pairs with the same words.
QUESTIONS = (
    ("B", "What should the festival money be spent on?", 1),
    ("C", "What should the festival money be spent on?", 2),
    ("A", "Who will make the posters?", 6),
    ("B", "Who will make the posters?", 7),
    ("C", "What do we do about tents if it rains?", 8),
    ("A", "What do we do about tents if it rains?", 9),
)
MONOLOGUE_VOICE = "B"
MONOLOGUE = (
    "Good evening, and thank you for coming to this short talk about keeping bees in the city.",
    "A single hive needs very little space, a corner of a roof or a small garden is enough.",
    "In spring the colony grows quickly, and you must check every week that the queen has room to lay.",
    "Bees fly up to three kilometres for flowers, so the parks and the street trees feed them.",
    "In the first year, do not expect much honey, because the bees need it for the winter.",
    "Next month we will open a hive together, so bring a long sleeved shirt and some patience.",
)
MONOLOGUE_GAP_S = 1.2


def _track(pieces: list[tuple[str, str]], gaps: list[float]) -> tuple[np.ndarray, list[list]]:
    """The pieces spoken one after another with `gaps` between; each piece's [start, end, voice]."""
    from bench.speech import say

    audio = [np.zeros(int(LEAD_IN_S * SAMPLE_RATE), dtype=np.float32)]
    turns, at = [], LEAD_IN_S
    for number, (voice, text) in enumerate(pieces):
        v = VOICES[voice]
        speech = say(text, v.words_per_minute, v.espeak, v.pitch)
        audio.append(speech)
        turns.append([round(at, 2), round(at + len(speech) / SAMPLE_RATE, 2), voice])
        at += len(speech) / SAMPLE_RATE
        pause = gaps[number] if number < len(gaps) else TAIL_S
        audio.append(np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32))
        at += int(pause * SAMPLE_RATE) / SAMPLE_RATE
    return np.concatenate(audio), turns


def build(out_dir: Path) -> tuple[Path, Path, Path]:
    """The meeting, the monologue and their suite, in `out_dir`."""
    from bench.speech import write_media

    out_dir.mkdir(parents=True, exist_ok=True)
    meeting, monologue = out_dir / "meeting.mp4", out_dir / "monologue.mp4"
    suite = out_dir / "espeak_speakers.jsonl"
    audio, turns = _track(list(MEETING), list(GAPS_S))
    write_media(audio, meeting, video=True)
    lines = [{"video": meeting.name, "turns": turns}]
    for voice, question, turn in QUESTIONS:
        start, end, said_by = turns[turn]
        assert said_by == voice, (voice, turn)
        lines.append({"question": question, "video": meeting.name, "start_s": start, "end_s": end, "voice": voice})
    audio, turns = _track([(MONOLOGUE_VOICE, text) for text in MONOLOGUE], [MONOLOGUE_GAP_S] * (len(MONOLOGUE) - 1))
    write_media(audio, monologue, video=True)
    lines.append({"video": monologue.name, "turns": turns})
    suite.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return meeting, monologue, suite


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in build(Path(sys.argv[1])):
        print(path)
