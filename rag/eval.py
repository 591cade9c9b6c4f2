"""`vidrag eval SUITE.jsonl`: how well search (and, optionally, the VLM's answers) finds
the moments a suite of questions expects.

A suite is JSON lines, one question each:

    {"question": "...", "video": "talk.mp4" or an id, "start_s": 54.0, "end_s": 61.5,
     "answer_contains": "sourdough"}          # optional: a string or a list of strings

A retrieved moment is a hit when it belongs to the line's video, starts no earlier than
`tolerance_s` before the expected window and before the window's end, and is at most
`max_width_s` wide: a moment that starts in silence long before the speech, or a whole chunk
that merely contains it, sends the player to the wrong place and does not count.

A line may also say, for itself:

    "start_within_s": 5.0    # the moment must start this close to start_s, either side
    "max_width_s": 40.0      # instead of the run's --max-width (a slide is on screen that long)
    "group": "title"         # the table adds hits@1/@3 per group
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import AnswerError, VidragError
from rag.json_object import json_object
from rag.types import Moment, Video

TOLERANCE_S = 2.0  # a moment may start this much before the expected window
MAX_WIDTH_S = 15.0  # wider than this, a moment no longer points at anything
FUSION = "fusion"  # the name of the full search in the ablation table
# The ablation rows, in table order: each signal alone, then all of them fused. A signal the
# searcher does not know (yet) is reported as not available rather than failing the run.
ABLATIONS = ("dense", "bm25", "clip", "descriptions", FUSION)


class SuiteError(VidragError):
    """A suite file that can't be read: missing, or a malformed line (named by its number)."""


@dataclass(frozen=True)
class Case:
    line: int
    question: str
    video: str  # a name or an id (or an id prefix), as the suite wrote it
    start_s: float
    end_s: float
    answer_contains: tuple[str, ...] = ()
    start_within_s: float | None = None
    max_width_s: float | None = None
    group: str = ""
    voice: str = ""  # searched with --speaker set to this voice's label (rag/speaker_eval.py)


@dataclass
class Scores:
    """One row of the table: a search configuration over the whole suite."""

    signals: str
    available: bool = True
    ranks: list[int | None] = field(default_factory=list)  # 1-based rank of the first hit, per case
    start_errors_s: list[float] = field(default_factory=list)  # of each case's first hit
    widths_s: list[float] = field(default_factory=list)  # of every retrieved moment
    groups: list[str] = field(default_factory=list)  # each case's group ("" for none)

    def hits_at(self, n: int, group: str | None = None) -> float:
        ranks = [r for r, g in zip(self.ranks, self.groups or [""] * len(self.ranks), strict=True)
                 if group is None or g == group]
        return sum(1 for r in ranks if r is not None and r <= n) / len(ranks) if ranks else 0.0

    def group_names(self) -> list[str]:
        return [g for g in dict.fromkeys(self.groups) if g]

    @property
    def mrr(self) -> float:
        return sum(1.0 / r for r in self.ranks if r) / len(self.ranks) if self.ranks else 0.0

    def to_json(self) -> dict:
        if not self.available:
            return {"signals": self.signals, "available": False}
        return {
            "signals": self.signals, "available": True, "questions": len(self.ranks),
            "hits@1": round(self.hits_at(1), 4), "hits@3": round(self.hits_at(3), 4),
            "hits@5": round(self.hits_at(5), 4), "mrr": round(self.mrr, 4),
            "median_start_error_s": _median(self.start_errors_s), "median_width_s": _median(self.widths_s),
            "ranks": self.ranks,
            **({"groups": {g: {"questions": self.groups.count(g), "hits@1": round(self.hits_at(1, g), 4),
                               "hits@3": round(self.hits_at(3, g), 4)} for g in self.group_names()}}
               if self.group_names() else {}),
        }


@dataclass
class AnswerScores:
    answered: int = 0  # answers that came back whole
    failed: list[str] = field(default_factory=list)  # one line per VLM failure
    with_supported_citation: int = 0
    citations: int = 0
    citations_in_window: int = 0
    contains_checked: int = 0
    contains_matched: int = 0

    def to_json(self) -> dict:
        def share(part, whole):
            return round(part / whole, 4) if whole else None

        return {
            "answered": self.answered, "failed": len(self.failed),
            "with_supported_citation": share(self.with_supported_citation, self.answered),
            "citations": self.citations, "citations_in_window": share(self.citations_in_window, self.citations),
            "answer_contains_checked": self.contains_checked,
            "answer_contains": share(self.contains_matched, self.contains_checked),
        }


# --- the suite -----------------------------------------------------------------------------


def load_suite(path: str | Path) -> list[Case]:
    """The suite's questions; SuiteError naming the line for anything malformed."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(f"cannot read the suite {path}: {e.strerror or e}") from e
    # Lines with "turns" say who spoke when (rag/speaker_eval.py reads them), not questions.
    cases = [parse_line(text, number, path.name) for number, text in enumerate(lines, 1)
             if text.strip() and not is_turns_line(text)]
    if not cases and not any(is_turns_line(text) for text in lines):
        raise SuiteError(f"{path.name}: no questions in the suite")
    return cases


def is_turns_line(text: str) -> bool:
    try:
        data = json_object(text)
    except ValueError:
        return False
    return "turns" in data and "question" not in data


def parse_line(text: str, number: int, where: str = "suite") -> Case:
    def bad(why: str) -> SuiteError:
        return SuiteError(f"{where} line {number}: {why}")

    try:
        data = json_object(text)
    except ValueError as e:
        raise bad(str(e)) from e
    missing = [key for key in ("question", "video", "start_s", "end_s") if key not in data]
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    question, video = data["question"], data["video"]
    if not isinstance(question, str) or not question.strip():
        raise bad("question must be a non-empty string")
    if not isinstance(video, str) or not video.strip():
        raise bad("video must be a video's name or id")
    times = []
    for key in ("start_s", "end_s"):
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise bad(f"{key} must be seconds, a number >= 0")
        times.append(float(value))
    if times[1] <= times[0]:
        raise bad("end_s must be after start_s")
    expected = data.get("answer_contains", [])
    expected = [expected] if isinstance(expected, str) else expected
    if not isinstance(expected, list) or not all(isinstance(e, str) and e for e in expected):
        raise bad("answer_contains must be a string or a list of strings")
    limits = []
    for key in ("start_within_s", "max_width_s"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise bad(f"{key} must be seconds, a number > 0")
        limits.append(float(value) if value is not None else None)
    group, voice = data.get("group", ""), data.get("voice", "")
    if not isinstance(group, str):
        raise bad("group must be a string")
    if not isinstance(voice, str):
        raise bad("voice must be a string, as the suite's turns name it")
    return Case(number, question.strip(), video.strip(), times[0], times[1], tuple(expected), *limits, group.strip(),
                voice.strip())


def resolve_videos(cases: Sequence[Case], videos: Sequence[Video], where: str = "suite") -> dict[int, str]:
    """Each case's video id, by the line's number: an exact name, an id, or an id prefix (4+)."""
    resolved = {}
    for case in cases:
        named = [v for v in videos if v.name == case.video]
        if not named:
            named = [v for v in videos if len(case.video) >= 4 and v.id.startswith(case.video)]
        if len(named) != 1:
            why = "is not in the library" if not named else "names more than one video"
            raise SuiteError(f"{where} line {case.line}: video {case.video!r} {why}")
        resolved[case.line] = named[0].id
    return resolved


# --- scoring -------------------------------------------------------------------------------


def is_hit(moment: Moment, case: Case, video_id: str, tolerance_s: float, max_width_s: float) -> bool:
    if case.start_within_s is not None and abs(moment.start_s - case.start_s) > case.start_within_s + 1e-6:
        return False
    return (
        moment.video_id == video_id
        and case.start_s - tolerance_s <= moment.start_s < case.end_s
        and moment.end_s - moment.start_s <= (case.max_width_s or max_width_s)
    )


def score_search(searcher, cases: Sequence[Case], video_ids: dict[int, str], signals: str, k: int,
                 tolerance_s: float = TOLERANCE_S, max_width_s: float = MAX_WIDTH_S) -> Scores:
    """Search every question with `signals` (one signal's name, or FUSION for all of them)."""
    from rag.retrieval.search import SIGNALS

    scores = Scores(signals)
    if signals != FUSION and signals not in SIGNALS:
        scores.available = False
        return scores
    chosen = SIGNALS if signals == FUSION else (signals,)
    for case in cases:
        record(scores, case, searcher.search(case.question, k=k, signals=chosen), video_ids[case.line],
               tolerance_s, max_width_s)
    return scores


def record(scores: Scores, case: Case, moments: Sequence[Moment], video_id: str, tolerance_s: float,
           max_width_s: float) -> None:
    """One case's moments into its row: the rank of the first hit, its start error, the widths."""
    rank = next((n for n, m in enumerate(moments, 1) if is_hit(m, case, video_id, tolerance_s, max_width_s)), None)
    scores.ranks.append(rank)
    scores.groups.append(case.group)
    if rank is not None:
        scores.start_errors_s.append(abs(moments[rank - 1].start_s - case.start_s))
    scores.widths_s.extend(m.end_s - m.start_s for m in moments)


def score_answers(library, cases: Sequence[Case], video_ids: dict[int, str],
                  tolerance_s: float = TOLERANCE_S) -> AnswerScores:
    """Ask the VLM every question and check its citations and words."""
    scores = AnswerScores()
    for case in cases:
        answer = library.answer(case.question)
        try:
            for _ in answer:
                pass
        except AnswerError as e:
            scores.failed.append(f"line {case.line}: {e}")
            continue
        if not answer.moments:
            scores.failed.append(f"line {case.line}: no moments retrieved")
            continue
        scores.answered += 1
        citations = answer.citations
        scores.with_supported_citation += any(c.supported for c in citations)
        scores.citations += len(citations)
        scores.citations_in_window += sum(
            1 for c in citations
            if c.video_id in (None, video_ids[case.line]) and case.start_s - tolerance_s <= c.start_s
            <= case.end_s + tolerance_s
        )
        if case.answer_contains:
            scores.contains_checked += 1
            text = answer.text.lower()
            scores.contains_matched += all(e.lower() in text for e in case.answer_contains)
    return scores


# --- reporting -----------------------------------------------------------------------------


def format_table(rows: Sequence[Scores], answers: AnswerScores | None = None) -> str:
    header = f"{'signals':<13}{'hits@1':>8}{'hits@3':>8}{'hits@5':>8}{'MRR':>7}{'start err':>11}{'width':>8}"
    lines = [header]
    for row in rows:
        if not row.available:
            lines.append(f"{row.signals:<13}  not available in this library's search")
            continue
        data = row.to_json()
        error, width = data["median_start_error_s"], data["median_width_s"]
        lines.append(
            f"{row.signals:<13}{row.hits_at(1):>8.0%}{row.hits_at(3):>8.0%}{row.hits_at(5):>8.0%}{row.mrr:>7.2f}"
            f"{_seconds(error):>11}{_seconds(width):>8}"
        )
        for group in row.group_names():
            lines.append(f"  {group:<11}{row.hits_at(1, group):>8.0%}{row.hits_at(3, group):>8.0%}"
                         f"    ({row.groups.count(group)} questions)")
    if answers is not None:
        data = answers.to_json()
        lines += ["", f"answers: {data['answered']} answered, {data['failed']} failed"]
        lines.append(f"  with a supported citation: {_share(data['with_supported_citation'])}")
        lines.append(f"  citations inside the expected window: {_share(data['citations_in_window'])}"
                     f" of {data['citations']}")
        lines.append(f"  answer_contains matched: {_share(data['answer_contains'])}"
                     f" of {data['answer_contains_checked']}")
    return "\n".join(lines)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
