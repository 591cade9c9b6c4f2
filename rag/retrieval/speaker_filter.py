"""Search by speaker (`--speaker S2`, or a name the user gave), and who speaks in a moment.

A chunk row holds 30 s of talk, often by several speakers, and each segment keeps its own label
(the fifth item of the row's segments). Milvus can't filter on that, so a speaker search asks
Milvus for the rows of the videos that have the speaker, more of them than usual, keeps the rows
with a segment of that speaker, and narrows each to that speaker's segments only: a moment never
runs on into someone else's words. Frames can't tell who speaks, so CLIP and image hits don't
make moments of their own in a speaker search; frames still illustrate the moments found.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import VidragError
from rag.speakers import display_name, resolve_speaker
from rag.store import row_source
from rag.types import Segment, Video

WIDER = 4  # times the usual candidates fetched: most rows of a video are someone else's


class NoSuchSpeaker(VidragError):
    """No video in the search has the speaker asked for."""


def speaker_labels(videos: dict[str, Video], wanted: str) -> dict[str, str]:
    """video id -> the label `wanted` means in it, for the videos that have such a speaker."""
    found = {vid: label for vid, video in videos.items() if (label := resolve_speaker(video, wanted))}
    if not found:
        raise NoSuchSpeaker(f"no video here has a speaker {wanted.strip()!r} "
                            "(labels are S1, S2...; names are given on a video's page)")
    return found


def rows_with_speaker(rows: list[dict], labels: dict[str, str]) -> list[dict]:
    """The transcript rows with at least one segment by their video's wanted speaker."""
    return [row for row in rows if row_source(row) == "speech" and row["video_id"] in labels
            and any(len(item) > 4 and item[4] == labels[row["video_id"]] for item in row["segments"])]


def allowed_segments(segments: Sequence[Segment], label: str) -> list[bool]:
    return [s.speaker == label for s in segments]


def said_by(segments: Sequence[Segment], video: Video | None) -> tuple[tuple[str, ...], str]:
    """Who speaks in a run of segments (display names, in order), and its text with a name before
    each turn when more than one speaks ("" when no segment has a speaker)."""
    names = tuple(dict.fromkeys(display_name(video, s.speaker) for s in segments if s.speaker))
    if len(names) < 2:
        return names, ""
    turns: list[tuple[str, list[str]]] = []
    for segment in segments:
        name = display_name(video, segment.speaker) or "?"
        if turns and turns[-1][0] == name:
            turns[-1][1].append(segment.text)
        else:
            turns.append((name, [segment.text]))
    return names, " ".join(f"{name}: {' '.join(texts)}" for name, texts in turns)
