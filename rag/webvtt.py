"""Transcript segments as WebVTT, the subtitle format browsers' <video> elements read."""

from __future__ import annotations

from collections.abc import Iterable

from rag.types import Segment


def vtt_time(seconds: float) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def cue_text(text: str) -> str:
    """Text as a cue shows it literally: WebVTT reads `<b>`, `<c>`, `&amp;`... as markup, and a
    blank line would end the cue early, so these are escaped (`-->` too, as `--&gt;`) or flattened."""
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(segments: Iterable[Segment]) -> str:
    """One cue per segment, in time order."""
    lines = ["WEBVTT", ""]
    for segment in sorted(segments, key=lambda s: s.start_s):
        text = cue_text(segment.text)
        if not text:
            continue
        end = max(segment.end_s, segment.start_s + 0.5)
        lines += [f"{vtt_time(segment.start_s)} --> {vtt_time(end)}", text, ""]
    return "\n".join(lines)


def chapters_to_webvtt(chapters: Iterable[tuple[float, str]], duration_s: float) -> str:
    """A WebVTT chapters track (<track kind="chapters">): one cue per chapter, from its start
    to the next chapter's, the last to the end of the video."""
    chapters = sorted(chapters)
    lines = ["WEBVTT", ""]
    for number, (start, title) in enumerate(chapters, 1):
        end = chapters[number][0] if number < len(chapters) else max(duration_s, start + 1.0)
        title = cue_text(title)
        lines += [str(number), f"{vtt_time(start)} --> {vtt_time(end)}", title, ""]
    return "\n".join(lines)
