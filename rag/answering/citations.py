"""Find the times an answer cites and check each one against the retrieved moments."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.clock import parse_clock
from rag.types import Citation, Moment

# [01:05], [1:02:05], [talk.mp4 01:05], [talk.mp4, 01:05-01:10], [talk.mp4 @ 01:05]
_BRACKETS = re.compile(r"\[([^\[\]\n]{1,200})\]")
_TIME = re.compile(r"(?<![\d:])(\d{1,2}:)?\d{1,2}:\d{2}(?![\d:])")
TOLERANCE_S = 1.0  # answers cite whole seconds; moments start at fractional ones


def find_citations(text: str) -> list[tuple[str, str, float]]:
    """Every cited time in order of appearance: (label as written, video name or "", seconds)."""
    found = []
    for match in _BRACKETS.finditer(text):
        inside = match.group(1)
        time = _TIME.search(inside)
        if time is None:
            continue
        name = inside[: time.start()].strip(" ,;@-–:").strip()
        found.append((match.group(0), name, parse_clock(time.group(0))))
    return found


def map_citations(text: str, moments: Sequence[Moment]) -> list[Citation]:
    """Each distinct citation, mapped to the best-ranked moment (moments come best first) of the
    named video (or any video, when none is named) whose time range holds it. A time that no
    retrieved moment holds is unsupported: the model made it up, or misread the context."""
    citations = []
    seen = set()
    for label, name, seconds in find_citations(text):
        if label in seen:
            continue
        seen.add(label)
        candidates = [m for m in moments if not name or _same_name(name, m.video_name)]
        home = next(
            (m for m in candidates if m.start_s - TOLERANCE_S <= seconds <= m.end_s + TOLERANCE_S),
            None,
        )
        citations.append(Citation(label, seconds, home.video_id if home else None, home is not None))
    return citations


def _same_name(cited: str, video_name: str) -> bool:
    cited, video_name = cited.strip("\"'").lower(), video_name.lower()
    stem = video_name.rsplit(".", 1)[0]
    return cited in (video_name, stem)
