"""Speakers' names: the labels the speakers stage gives ("S1", "S2"...), the names a user gives
them per video ("S2" -> "Maria"), and which speaker a search asks for. Pure, but for `rename`.

A name is stored on the video's registry row (Video.speaker_names) and never in its text rows, so
renaming changes nothing that was indexed: transcripts, prompts and search read the name at the
time they show the label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from rag.errors import VidragError
from rag.types import Segment, Video

MAX_NAME = 40  # characters
_LABEL = re.compile(r"^S[1-9][0-9]*$")


class SpeakerError(VidragError):
    """A speaker the video does not have, or a name that can't be one."""


def labels(video: Video) -> list[str]:
    return [f"S{n}" for n in range(1, video.speakers + 1)]


def display_name(video: Video | None, label: str) -> str:
    """What to show for a label: the user's name for it, else the label itself ("" for none)."""
    if not label or video is None:
        return label
    return video.speaker_names.get(label, label)


def named(segments: Iterable[Segment], video: Video | None) -> list[Segment]:
    """The segments with each speaker label as its display name."""
    return [replace(s, speaker=display_name(video, s.speaker)) if s.speaker else s for s in segments]


def resolve_speaker(video: Video, wanted: str) -> str | None:
    """The label in `video` that `wanted` means: a label ("s2" too) or a name it was given, case
    aside. None when the video has no such speaker."""
    wanted = wanted.strip().casefold()
    for label in labels(video):
        if wanted in (label.casefold(), video.speaker_names.get(label, "").casefold()):
            return label
    return None


def rename(store, video: Video, label: str, name: str) -> Video:
    """Give `label` of `video` a name ("" takes the name back), stored on its registry row."""
    label = label.strip().upper()
    if not _LABEL.match(label) or label not in labels(video):
        have = ", ".join(labels(video)) or "none"
        raise SpeakerError(f"{video.name} has no speaker {label or '(empty)'} (its speakers: {have})")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise SpeakerError(f"a speaker's name is at most {MAX_NAME} characters")
    if _LABEL.match(name.upper()) and name.upper() != label:
        raise SpeakerError(f"{name} is another speaker's label; choose a name")
    taken = next((n for key, n in video.speaker_names.items() if key != label and n.casefold() == name.casefold()), "")
    if name and taken:
        raise SpeakerError(f"another speaker of {video.name} is already called {taken}")
    names = {key: n for key, n in video.speaker_names.items() if key != label}
    if name and name != label:
        names[label] = name
    renamed = replace(video, speaker_names=dict(sorted(names.items(), key=lambda item: int(item[0][1:]))))
    store.commit_video(renamed)
    return renamed

