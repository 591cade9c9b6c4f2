"""Sample one frame every 1/fps seconds, decoding as little of the video as possible.

The seed method (moviepy's iter_frames) starts a decoder at every sample and decodes from the
previous keyframe. Here one ffmpeg process does the whole job:

1. The packet list (no decoding) tells every frame's timestamp and which frames are keyframes.
2. For each grid time, a keyframe within KEYFRAME_SNAP_S is taken as is: it decodes alone.
   Otherwise the frame nearest that time is decoded, starting from its keyframe.
3. A bitstream filter drops every packet the chosen frames don't need before it reaches the
   decoder, and a select filter keeps just the chosen frames for the JPEG encoder. Both long
   expressions go to ffmpeg in files (`-/bsf:v`, `-/vf`), so hours of video fit.

Each saved frame carries its true presentation timestamp, read back from ffmpeg.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ingest.probe import MediaInfo, Packet, list_packets
from rag.errors import IngestError
from rag.frame_decoder import decode_frames
from rag.types import Frame

KEYFRAME_SNAP_S = 1.0  # a keyframe this close to a grid time stands in for it (seconds)
MAX_SIDE = 1280  # longest side of saved frames (pixels); more only costs disk and VLM tokens
JPEG_QUALITY = 3  # ffmpeg's -q:v scale, 2 (best) to 31


@dataclass(frozen=True)
class Pick:
    """A frame chosen for a grid time: which packet shows it, and from which packet to decode."""

    packet: int  # index of the frame's packet, in decode order
    decode_from: int  # index of the first packet the decoder needs (a keyframe)
    pts: int


def grid_times(duration_s: float, fps: float) -> list[float]:
    """0, 1/fps, 2/fps, ... strictly before the end; at least one time, 0, for a short video."""
    interval = 1.0 / fps
    count = max(1, math.floor((duration_s - 1e-6) / interval) + 1) if duration_s > 0 else 1
    return [round(i * interval, 6) for i in range(count)]


def choose_frames(
    packets: list[Packet], time_base: Fraction, start_s: float, fps: float, duration_s: float | None = None
) -> list[Pick]:
    """For each grid time, the packet to show: a nearby keyframe, or the nearest frame. Pure.

    `duration_s` is the container's; without one, the packets' own end is used."""
    seconds = [float(p.pts * time_base) - start_s for p in packets]
    order = sorted(range(len(packets)), key=lambda i: seconds[i])  # presentation order
    keyframes = [i for i in order if packets[i].key] or [order[0]]
    key_seconds = [seconds[i] for i in keyframes]
    if duration_s is None:
        last = order[-1]
        duration_s = seconds[last] + float(packets[last].duration * time_base)

    picks: dict[int, Pick] = {}
    nearest = 0  # position in `order` of the frame nearest the current grid time
    for t in grid_times(duration_s, fps):
        while nearest + 1 < len(order) and abs(seconds[order[nearest + 1]] - t) <= abs(seconds[order[nearest]] - t):
            nearest += 1
        nearest_key = _nearest(keyframes, key_seconds, t)
        if abs(seconds[nearest_key] - t) <= KEYFRAME_SNAP_S:
            packet, decode_from = nearest_key, nearest_key
        else:
            packet = order[nearest]
            decode_from = max((k for k in keyframes if k <= packet), default=order[0])
        picks.setdefault(packet, Pick(packet, decode_from, packets[packet].pts))
    return sorted(picks.values(), key=lambda p: p.pts)


def _nearest(items: list[int], times: list[float], t: float) -> int:
    """The item whose (sorted) time is nearest t."""
    at = bisect.bisect_left(times, t)
    candidates = [j for j in (at - 1, at) if 0 <= j < len(items)]
    return items[min(candidates, key=lambda j: abs(times[j] - t))]


def extract_frames(
    info: MediaInfo,
    out_dir: Path,
    fps: float,
    on_frame: Callable[[int, int], None] | None = None,
    packet_list: tuple[Fraction, list[Packet]] | None = None,
) -> list[Frame]:
    """Save the sampled frames of `info`'s video as JPEG in `out_dir`; return them in time order.
    `on_frame(done, total)` is called as frames are written. `packet_list` is list_packets'
    answer, when the caller already has it."""
    stream = info.video
    if stream is None:
        return []
    name = os.path.basename(info.path)
    time_base, packets = packet_list or list_packets(info.path, stream.index)
    if all(p.has_pts for p in packets):
        bsf, select, expected = _sparse_plan(choose_frames(packets, time_base, info.start_s, fps, info.duration_s))
    else:
        bsf, select, expected = _dense_plan(info.start_s, fps)
    decoded, last_line = decode_frames(
        info.path, out_dir, select, max_side=MAX_SIDE, quality=JPEG_QUALITY, stream=f"0:{stream.index}",
        count=expected, bsf=bsf, on_frame=(lambda done: on_frame(done, expected or done)) if on_frame else None)
    if not decoded:
        raise IngestError(f"{name}: no frame of the video could be decoded ({last_line})")
    return [Frame(max(0.0, round(t - info.start_s, 6)), str(path)) for t, path in decoded]


def _sparse_plan(picks: list[Pick]) -> tuple[str, str, int]:
    """(bitstream filter, select filter, frame count) that decode only what `picks` need."""
    keep = sorted({i for pick in picks for i in range(pick.decode_from, pick.packet + 1)})
    drop = "not(" + _any_of([f"between(n,{a},{b})" for a, b in _runs(keep)]) + ")"
    # Commas separate bitstream filters in a -bsf list, so those inside the expression are escaped.
    bsf = "noise=drop=" + drop.replace(",", "\\,")
    select = "select='" + _any_of([f"eq(pts,{pick.pts})" for pick in picks]) + "'"
    return bsf, select, len(picks)


def _dense_plan(start_s: float, fps: float) -> tuple[None, str, None]:
    """A raw stream with no timestamps (an .h264 file, say) can't be planned: decode it all and
    keep the first frame of each interval."""
    bucket = f"floor((t-{start_s})*{fps})"
    previous = bucket.replace("(t-", "(prev_selected_t-")
    return None, f"select='isnan(prev_selected_t)+gt({bucket},{previous})'", None


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive integers, as inclusive (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _any_of(terms: list[str]) -> str:
    """`a+b+c+...` as a balanced tree: ffmpeg's expression parser limits nesting depth."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({_any_of(terms[:middle])}+{_any_of(terms[middle:])})"


NAME = "frames"


def run(work) -> None:
    """The stage: one frame every 1/VIDRAG_FRAME_FPS seconds, into the video's frame folder."""
    if work.info.video:
        work.frames = extract_frames(work.info, work.settings.frames_dir / work.video_id, work.settings.frame_fps,
                                     on_frame=work.reporter(NAME), packet_list=work.packet_list)
