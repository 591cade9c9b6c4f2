"""Probe a media file: its streams, duration, start time and rotation, from ffmpeg's own report.

imageio-ffmpeg ships ffmpeg but not ffprobe, so we read `ffmpeg -i`'s stream listing, and for
video also the packet list (`-f framecrc`), which gives every frame's timestamp and keyframe
flag without decoding anything.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fractions import Fraction

from ingest.ffmpeg import input_arg, last_error_line, run_ffmpeg
from rag.errors import IngestError

# Codecs of subtitle streams that hold text (bitmap subtitles such as PGS would need OCR).
TEXT_SUBTITLE_CODECS = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text", "microdvd", "subviewer"}
# Demuxers that read still images: a PNG renamed to .mp4 is not a video.
IMAGE_FORMAT = re.compile(r"(_pipe|^image2|^gif|^webp|^apng)")

_INPUT = re.compile(r"^Input #0, ([^,]+(?:,[^ ]+)*), from")
_DURATION = re.compile(r"Duration: (N/A|(\d+):(\d+):(\d+(?:\.\d+)?))(?:, start: (-?\d+(?:\.\d+)?))?")
_STREAM = re.compile(r"Stream #0:(\d+)[^:]*: (Video|Audio|Subtitle|Data|Attachment): ([\w-]+)(.*)$")
_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
# What ffmpeg says when a file stops before its index says it should.
TRUNCATED = re.compile(r"partial file|ended prematurely|truncat", re.IGNORECASE)
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")


@dataclass(frozen=True)
class Stream:
    index: int
    kind: str  # "video", "audio", "subtitle", ...
    codec: str
    attached_pic: bool = False


@dataclass(frozen=True)
class Packet:
    """A video packet in decode order, with its timestamps in the stream's time base."""

    dts: int
    pts: int
    duration: int
    key: bool
    has_pts: bool = True


@dataclass
class MediaInfo:
    path: str
    format: str
    duration_s: float | None
    start_s: float
    rotation: float
    streams: list[Stream] = field(default_factory=list)

    @property
    def video(self) -> Stream | None:
        """The main video stream. Cover art in an audio file is not a video."""
        return next((s for s in self.streams if s.kind == "video" and not s.attached_pic), None)

    @property
    def audio(self) -> Stream | None:
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def text_subtitles(self) -> list[Stream]:
        return [s for s in self.streams if s.kind == "subtitle" and s.codec in TEXT_SUBTITLE_CODECS]


def probe(path: str) -> MediaInfo:
    """Read the streams of `path`. Raises IngestError for anything that is not audio or video."""
    name = os.path.basename(path)
    # `ffmpeg -i` with no output always exits 1; its report is in stderr either way.
    report = run_ffmpeg(["-i", input_arg(path)], what=name, check=False).stderr
    info = parse_report(path, report)
    if info is None:
        raise IngestError(f"{name} is not a video or audio file, or is damaged ({ffmpeg_reason(report)})")
    if IMAGE_FORMAT.search(info.format):
        raise IngestError(f"{name} is an image, not a video or audio file")
    if info.video is None and info.audio is None:
        raise IngestError(f"{name} has no video or audio stream")
    return info


def parse_report(path: str, report: str) -> MediaInfo | None:
    """Parse `ffmpeg -i`'s report for input #0; None when ffmpeg could not open the file."""
    lines = report.splitlines()
    header = next((m for m in map(_INPUT.match, lines) if m), None)
    if header is None:
        return None
    duration_s, start_s, rotation = None, 0.0, 0.0
    streams: list[Stream] = []
    for line in lines:
        if m := _DURATION.search(line):
            if m.group(1) != "N/A":
                duration_s = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
            start_s = float(m.group(5) or 0.0)
        elif m := _STREAM.search(line):
            streams.append(Stream(int(m.group(1)), m.group(2).lower(), m.group(3), "(attached pic)" in m.group(4)))
        elif m := _ROTATION.search(line):
            rotation = float(m.group(1))
    return MediaInfo(path, header.group(1), duration_s, start_s, rotation, streams)


def list_packets(path: str, stream_index: int) -> tuple[Fraction, list[Packet]]:
    """Every packet of one stream, in decode order, without decoding: (time base, packets)."""
    result = run_ffmpeg(
        ["-loglevel", "error", "-copyts", "-i", input_arg(path), "-map", f"0:{stream_index}",
         "-c", "copy", "-f", "framecrc", "-"],
        what=f"{os.path.basename(path)}: cannot read the video stream",
        check=False,
    )
    time_base, packets = parse_framecrc(result.stdout.decode("ascii", errors="replace"))
    name = os.path.basename(path)
    if not packets:
        raise IngestError(f"{name}: the video stream holds no frames ({ffmpeg_reason(result.stderr)})")
    if m := TRUNCATED.search(result.stderr):
        line = result.stderr[: m.end()].splitlines()[-1] + result.stderr[m.end() :].split("\n", 1)[0]
        raise IngestError(f"{name} is truncated or damaged ({ffmpeg_reason(line)})")
    return time_base, packets


def ffmpeg_reason(stderr: str) -> str:
    """The most telling line of ffmpeg's complaint, without its `[component @ 0x...]` prefix."""
    lines = [_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    telling = [
        line for line in lines
        if line and not line.startswith(("Error opening input", "At least one output")) and "misdetection" not in line
    ]
    return telling[0] if telling else last_error_line(stderr)


NO_TIMESTAMP = -(2**63)


def parse_framecrc(text: str) -> tuple[Fraction, list[Packet]]:
    """Parse ffmpeg's framecrc output: `stream, dts, pts, duration, size, crc[, F=0x0]`,
    where a missing F= means a keyframe."""
    time_base = Fraction(1, 1000)
    packets = []
    for line in text.splitlines():
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            parts = [p.strip() for p in line.split(",")]
            dts, pts, duration = int(parts[1]), int(parts[2]), int(parts[3])
            flags = next((p for p in parts[6:] if p.startswith("F=")), None)
            key = flags is None or int(flags[2:], 16) & 1 == 1
            has_pts = pts != NO_TIMESTAMP
            packets.append(Packet(dts, pts if has_pts else dts, duration, key, has_pts))
    return time_base, packets
