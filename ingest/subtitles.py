"""Transcripts that already exist: a subtitle file beside the video, or a text subtitle stream.

SRT and WebVTT are read as they are written; ffmpeg converts the other text formats it knows
(ASS, mov_text, ...) to SRT. One small parser reads them all. It is not ffmpeg's SRT decoder on
purpose: that one takes any `<` for markup, so the cue `a < b --> c` came out as `a c`.
"""

from __future__ import annotations

import html
import re
from pathlib import Path, PurePath

from ingest.ffmpeg import input_arg, run_ffmpeg
from ingest.probe import MediaInfo
from rag.errors import IngestError
from rag.languages import guess_language, normalise_code
from rag.types import Segment, Transcript

SIDECAR_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")  # en, deu, pt-BR
_CLOCK = r"(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})"  # SRT's 00:01:02,500; WebVTT may leave out the hours
_TIMING = re.compile(rf"^\s*{_CLOCK}\s*-->\s*{_CLOCK}")
# Only real markup: SRT's b, i, u, s and font tags, WebVTT's c, v, lang, ruby and rt tags and
# timestamps, and ASS override blocks. Any other `<` is text (`a < b`, `x<y`).
_TAG = re.compile(
    r"</?(?:b|i|u|s|font|c|v|lang|ruby|rt)(?:\.[\w.-]*)?(?:\s[^<>]*)?>"
    r"|<\d+:\d{2}(?::\d{2})?\.\d{3}>|\{\\[^}]*\}",
    re.IGNORECASE,
)
READ_AS_WRITTEN = (".srt", ".vtt")


def sidecar_tag(media_stem: str, name: str) -> str | None:
    """How the subtitle file `name` belongs to the media file of stem `media_stem`: "" for
    `talk.srt`, "en" for `talk.en.srt`; None when it is not talk's subtitle file at all."""
    path = PurePath(name)
    if path.suffix.lower() not in SIDECAR_SUFFIXES:
        return None
    if path.stem == media_stem:
        return ""
    if path.stem.startswith(media_stem + ".") and LANGUAGE_TAG.match(tag := path.stem[len(media_stem) + 1 :]):
        return tag
    return None


def find_sidecar(media_path: Path) -> Path | None:
    """`talk.srt`, `talk.vtt`, `talk.en.srt`, ... beside `talk.mp4`. An exact stem wins."""
    candidates = []
    for path in media_path.parent.glob("*"):
        tag = sidecar_tag(media_path.stem, path.name)
        if tag is not None and path.is_file():
            candidates.append((tag != "", SIDECAR_SUFFIXES.index(path.suffix.lower()), path.name, path))
    return min(candidates)[-1] if candidates else None


def sidecar_language(media_path: Path, sidecar: Path) -> str:
    """`talk.en.srt` says English; `talk.srt` says nothing."""
    return (sidecar_tag(media_path.stem, sidecar.name) or "").split("-")[0].lower()


def read_sidecar(media_path: Path, sidecar: Path) -> Transcript:
    if sidecar.suffix.lower() in READ_AS_WRITTEN:
        segments = parse_srt(_decode(sidecar.read_bytes()))
    else:
        result = run_ffmpeg(["-i", input_arg(str(sidecar)), "-f", "srt", "-"], what=f"subtitle file {sidecar.name}")
        segments = parse_srt(result.stdout.decode("utf-8", errors="replace"))
    if not segments:
        raise IngestError(f"subtitle file {sidecar.name} holds no cues")
    return Transcript(segments, _language(sidecar_language(media_path, sidecar), segments), f"sidecar:{sidecar.name}")


def read_embedded(info: MediaInfo) -> Transcript | None:
    """The first text subtitle stream that holds cues, or None."""
    for stream in info.text_subtitles:
        as_written = ["-c:s", "copy"] if stream.codec in ("subrip", "srt") else []  # not ffmpeg's decoder
        result = run_ffmpeg(
            ["-i", input_arg(info.path), "-map", f"0:{stream.index}", *as_written, "-f", "srt", "-"],
            what="embedded subtitles",
            check=False,
        )
        segments = parse_srt(result.stdout.decode("utf-8", errors="replace"))
        if segments:
            return Transcript(segments, _language("", segments), "embedded")
    return None


def _language(tagged: str, segments) -> str:
    """The language the file's name says (`talk.deu.srt` -> "de"), else the one its words are in
    (the first few hundred cues are plenty), else "" (BM25 then takes its words as they are)."""
    return normalise_code(tagged) if tagged else guess_language(" ".join(s.text for s in segments[:300]))


def parse_srt(text: str) -> tuple[Segment, ...]:
    """SRT (or WebVTT) cues as segments, in time order, with markup removed and lines joined."""
    segments = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.strip().split("\n")
        timing_at = next((i for i, line in enumerate(lines) if _TIMING.search(line)), None)
        if timing_at is None:
            continue
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g or 0) for g in _TIMING.search(lines[timing_at]).groups())
        words = " ".join(_TAG.sub("", line).strip() for line in lines[timing_at + 1 :])
        words = html.unescape(" ".join(words.split()))
        if words:
            start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000
            end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
            segments.append(Segment(start, max(start, end), words))
    return tuple(sorted(segments, key=lambda s: s.start_s))


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252, which older SRT files use."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
