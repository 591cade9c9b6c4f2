"""A transcript as captions and files: WebVTT (what browsers' <video> elements read), SubRip
(.srt), JSON and plain text; and a WebVTT chapters track."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence

from rag.types import Segment


def vtt_time(seconds: float) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _flat(text: str) -> str:
    """One line: control characters dropped, runs of whitespace (a blank line would end the cue
    early) one space."""
    return " ".join("".join(c for c in text if c in "\t\n" or unicodedata.category(c) != "Cc").split())


def cue_text(text: str) -> str:
    """Text as a WebVTT cue shows it literally: WebVTT reads `<b>`, `<c>`, `&amp;`... as markup,
    so these are escaped (`-->` too, as `--&gt;`)."""
    return _flat(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


WORD_JOINER = "\u2060"  # invisible; breaks a would-be tag apart


def srt_cue_text(text: str) -> str:
    """Text as an SRT cue shows it literally. SRT has no escapes: players read `<i>`, `<font>` as
    HTML and `{\\an8}` as an ASS override, but show entities such as `&lt;` as they are. So a
    word joiner goes after each `<` and `{`: no tag or override forms, and nothing shows."""
    return _flat(text).replace("<", "<" + WORD_JOINER).replace("{", "{" + WORD_JOINER)


MIN_CUE_S = 0.5  # a cue shown for less than this can't be read


def _cues(segments: Iterable[Segment], escape=cue_text) -> list[tuple[float, float, str, str]]:
    """(start, end, escaped text, escaped speaker) per segment with text, in time order."""
    cues = []
    for segment in sorted(segments, key=lambda s: s.start_s):
        text = escape(segment.text)
        if text:
            cues.append((segment.start_s, max(segment.end_s, segment.start_s + MIN_CUE_S), text,
                         escape(segment.speaker)))
    return cues


def to_webvtt(segments: Iterable[Segment]) -> str:
    """One cue per segment, in time order; a speaker as the cue's voice span, `<v S1>`."""
    lines = ["WEBVTT", ""]
    for start, end, text, speaker in _cues(segments):
        lines += [f"{vtt_time(start)} --> {vtt_time(end)}", f"<v {speaker}>{text}" if speaker else text, ""]
    return "\n".join(lines)


def to_srt(segments: Iterable[Segment]) -> str:
    """SubRip: numbered cues, a comma before the milliseconds; a speaker as a prefix, `S1: `."""
    blocks = [f"{number}\n{vtt_time(start).replace('.', ',')} --> {vtt_time(end).replace('.', ',')}\n"
              f"{speaker + ': ' if speaker else ''}{text}\n"
              for number, (start, end, text, speaker) in enumerate(_cues(segments, srt_cue_text), 1)]
    return "\n".join(blocks)


def to_json(segments: Iterable[Segment]) -> str:
    """An array of {start_s, end_s, text} (and speaker, where known), in time order."""
    rows = [{"start_s": round(s.start_s, 3), "end_s": round(s.end_s, 3), "text": s.text,
             **({"speaker": s.speaker} if s.speaker else {})}
            for s in sorted(segments, key=lambda s: s.start_s)]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def to_text(segments: Iterable[Segment]) -> str:
    """One line per segment: `[mm:ss] text`, or `[mm:ss] S1: text` with a speaker."""
    from rag.clock import format_clock

    return "".join(f"[{format_clock(s.start_s)}] {s.speaker + ': ' if s.speaker else ''}{' '.join(s.text.split())}\n"
                   for s in sorted(segments, key=lambda s: s.start_s) if s.text.strip())


TRANSCRIPT_FORMATS = {"text": to_text, "json": to_json, "srt": to_srt, "webvtt": to_webvtt}


def format_transcript(segments: Sequence[Segment], form: str) -> str:
    return TRANSCRIPT_FORMATS[form](segments)


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
