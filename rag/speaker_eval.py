"""How right a video's speakers are, against turns known to be true (evals/conversation.py):
the share of speech time given to the right speaker under the best mapping of labels to voices,
and the error in the number of speakers. Pure.

Time is measured on a 10-ms grid over the reference turns: a moment of a voice's turn is right
when the segment there carries the label that voice is mapped to. The mapping is the one-to-one
assignment of labels to voices that makes the most time right (the Hungarian method), so a
speaker split in two loses the smaller half, and time in no segment is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.types import Segment

STEP_S = 0.01


@dataclass(frozen=True)
class SpeakerScore:
    video: str
    share_right: float  # of the reference speech time, 0..1
    speakers_found: int
    speakers_true: int
    mapping: dict[str, str]  # voice -> label

    @property
    def count_error(self) -> int:
        return self.speakers_found - self.speakers_true

    def to_json(self) -> dict:
        return {"video": self.video, "share_right": round(self.share_right, 4), "speakers_found": self.speakers_found,
                "speakers_true": self.speakers_true, "count_error": self.count_error, "mapping": self.mapping}


def score_speakers(video: str, turns: Sequence[tuple[float, float, str]], segments: Sequence[Segment]) -> SpeakerScore:
    from scipy.optimize import linear_sum_assignment

    voices = sorted({voice for _, _, voice in turns})
    labels = sorted({s.speaker for s in segments if s.speaker})
    end = max([e for _, e, _ in turns] + [s.end_s for s in segments] + [0.0])
    grid = int(np.ceil(end / STEP_S)) + 1
    said = np.full(grid, -1)  # label index at each step, -1 for none
    for segment in segments:
        if segment.speaker:
            said[_step(segment.start_s) : _step(segment.end_s)] = labels.index(segment.speaker)
    overlap = np.zeros((len(voices), max(1, len(labels))))
    total = 0
    for start, stop, voice in turns:
        heard = said[_step(start) : _step(stop)]
        total += len(heard)
        for index in range(len(labels)):
            overlap[voices.index(voice), index] += int(np.count_nonzero(heard == index))
    rows, cols = linear_sum_assignment(-overlap)
    right = sum(overlap[r, c] for r, c in zip(rows, cols, strict=True))
    mapping = {voices[r]: labels[c] for r, c in zip(rows, cols, strict=True) if labels and overlap[r, c] > 0}
    return SpeakerScore(video, float(right / total) if total else 0.0, len(labels), len(voices), mapping)


def _step(seconds: float) -> int:
    return max(0, int(round(seconds / STEP_S)))


# --- the suite's turns lines, and search by speaker ------------------------------------------


@dataclass(frozen=True)
class Reference:
    line: int
    video: str  # a name or an id, as the suite wrote it
    turns: tuple[tuple[float, float, str], ...]  # (start_s, end_s, voice)


def load_references(path) -> list[Reference]:
    """The suite's `{"video", "turns": [[start_s, end_s, voice], ...]}` lines; SuiteError names a
    malformed one."""
    from pathlib import Path

    from rag.eval import SuiteError, is_turns_line
    from rag.json_object import json_object

    path = Path(path)
    found = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip() or not is_turns_line(text):
            continue
        data = json_object(text)
        video, turns = data.get("video"), data["turns"]
        good = isinstance(video, str) and video.strip() and isinstance(turns, list) and turns and all(
            isinstance(t, list) and len(t) == 3 and all(isinstance(x, int | float) and not isinstance(x, bool)
                                                        for x in t[:2])
            and 0 <= t[0] < t[1] and isinstance(t[2], str) and t[2] for t in turns)
        if not good:
            raise SuiteError(f"{path.name} line {number}: turns must be [[start_s, end_s, voice], ...] of a video")
        found.append(Reference(number, video.strip(), tuple((float(a), float(b), v) for a, b, v in turns)))
    return found


def score_speaker_search(searcher, cases, video_ids: dict[int, str], mapping: dict[str, dict[str, str]], k: int,
                         tolerance_s: float, max_width_s: float):
    """The questions with a voice, each searched with `speaker` set to the label that voice got
    in its video (`mapping`: video id -> voice -> label); a voice with no label is a miss."""
    from rag.eval import FUSION, Scores, record
    from rag.retrieval.search import SIGNALS

    scores = Scores(f"{FUSION}+speaker")
    for case in (c for c in cases if c.voice):
        video_id = video_ids[case.line]
        label = mapping.get(video_id, {}).get(case.voice)
        moments = searcher.search(case.question, k=k, signals=SIGNALS, speaker=label) if label else []
        record(scores, case, moments, video_id, tolerance_s, max_width_s)
    return scores


def format_speakers(found: Sequence[SpeakerScore]) -> str:
    lines = [f"{'speakers':<22}{'right':>8}{'found':>7}{'true':>6}{'count err':>11}"]
    for score in found:
        lines.append(f"{score.video[:21]:<22}{score.share_right:>8.0%}{score.speakers_found:>7}"
                     f"{score.speakers_true:>6}{score.count_error:>+11d}")
    return "\n".join(lines)
