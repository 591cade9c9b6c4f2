"""From transcript segments to the pieces of speech that get a voice vector, and back: each
segment labelled with its speaker, and split where the speaker changes. Pure.

A piece is a run of whole words of one segment, PIECE_S long or a little more (the last run of a
segment joins the one before when it is shorter than half a piece), so a change of speaker can
be placed at a word, and no piece straddles two segments. A segment without word times gives no
piece (subtitle files' times say when text shows, not who is heard: music under captions would
come out as "speakers").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import Segment, Word

PIECE_S = 1.6  # the encoder's partial utterance
MIN_RUN_PIECES = 2  # a change of speaker inside a segment must hold for this many pieces


@dataclass(frozen=True)
class Piece:
    segment: int  # its segment's index
    first_word: int  # its words, [first_word, last_word), of the segment's (0, 0 without words)
    last_word: int
    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def pieces_of(segments: Sequence[Segment]) -> list[Piece]:
    """The pieces of every segment, in time order."""
    pieces: list[Piece] = []
    for number, segment in enumerate(segments):
        if segment.end_s <= segment.start_s:
            continue
        if not segment.words:
            continue
        runs: list[list[int]] = [[]]
        for index, word in enumerate(segment.words):
            run = runs[-1]
            if run and word.end_s - segment.words[run[0]].start_s > PIECE_S and _span(segment.words, run) >= PIECE_S:
                runs.append([])
            runs[-1].append(index)
        if len(runs) > 1 and _span(segment.words, runs[-1]) < PIECE_S / 2:
            last = runs.pop()
            runs[-1] += last
        for run in runs:
            start, end = segment.words[run[0]].start_s, segment.words[run[-1]].end_s
            if end > start:
                pieces.append(Piece(number, run[0], run[-1] + 1, start, end))
    return pieces


def _span(words: Sequence[Word], run: Sequence[int]) -> float:
    return words[run[-1]].end_s - words[run[0]].start_s


def labelled(segments: Sequence[Segment], pieces: Sequence[Piece], speakers: Sequence[int]) -> list[Segment]:
    """The segments with their speakers ("S1", "S2"... in order of first speech), a segment split
    at the word where its speaker changes for at least MIN_RUN_PIECES pieces (a shorter run is
    one odd piece, and takes its neighbours' speaker). A segment no piece covers (too short to
    measure) takes the speaker of the segment before it, or after it at the start."""
    by_segment: dict[int, list[tuple[Piece, int]]] = {}
    for piece, speaker in zip(pieces, speakers, strict=True):
        by_segment.setdefault(piece.segment, []).append((piece, int(speaker)))
    parts: list[tuple[Segment, int | None]] = []
    for number, segment in enumerate(segments):
        own = by_segment.get(number, [])
        if not own:
            parts.append((segment, None))
            continue
        runs = _smoothed([speaker for _, speaker in own])
        if len(set(runs)) == 1:
            parts.append((segment, Counter(runs).most_common(1)[0][0]))
            continue
        at = 0
        while at < len(own):
            end = at
            while end < len(own) and runs[end] == runs[at]:
                end += 1
            first = 0 if at == 0 else own[at][0].first_word
            last = len(segment.words) if end == len(own) else own[end][0].first_word
            words = segment.words[first:last]
            text = "".join(w.text for w in words).strip()  # Whisper's words carry their own spaces
            start = segment.start_s if at == 0 else words[0].start_s
            stop = segment.end_s if end == len(own) else words[-1].end_s
            parts.append((Segment(start, max(start, stop), text, words=tuple(words)), runs[at]))
            at = end
    _fill_unmeasured(parts)
    names: dict[int, str] = {}
    for _, speaker in sorted(parts, key=lambda p: p[0].start_s):
        if speaker is not None and speaker not in names:
            names[speaker] = f"S{len(names) + 1}"
    return [Segment(s.start_s, s.end_s, s.text, names.get(speaker, ""), s.words) for s, speaker in parts]


def _smoothed(speakers: list[int]) -> list[int]:
    """Runs shorter than MIN_RUN_PIECES inside a segment take the speaker around them."""
    speakers = list(speakers)
    if len(speakers) < 2 * MIN_RUN_PIECES:  # too few pieces to hold two runs: the majority's
        return [Counter(speakers).most_common(1)[0][0]] * len(speakers)
    at = 0
    while at < len(speakers):
        end = at
        while end < len(speakers) and speakers[end] == speakers[at]:
            end += 1
        if end - at < MIN_RUN_PIECES:
            neighbour = speakers[at - 1] if at > 0 else speakers[end] if end < len(speakers) else speakers[at]
            speakers[at:end] = [neighbour] * (end - at)
        at = end
    return speakers


def _fill_unmeasured(parts: list) -> None:
    last = None
    for index, (segment, speaker) in enumerate(parts):
        if speaker is None and last is not None:
            parts[index] = (segment, last)
        last = parts[index][1]
    following = None
    for index in range(len(parts) - 1, -1, -1):
        if parts[index][1] is None:
            parts[index] = (parts[index][0], following)
        following = parts[index][1]
