"""Clip context: a short run of extra frames over the best moments, so the VLM sees what moves
between the one-per-interval frames that ingest sampled.

Frames come from vidrag's stored copy of the video, one per CLIP_INTERVAL_S over a moment, at a
small size, cached on disk by video, size and time (under the video's frame folder, so removing
the video removes them). They are decoded by rag/frame_decoder.py, as ingest's frames are, but
planned for a few seconds rather than hours: ffmpeg seeks to the keyframe before the first time,
decodes only as far as the last, and keeps the first frame at or after each time.

A failure to decode is logged and the answer goes on without the clip: the moments and their
frames still stand.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rag.ffmpeg import ffmpeg_exe, input_arg, scale_filter
from rag.frame_decoder import decode_frames
from rag.types import Frame, Moment, Video

log = logging.getLogger(__name__)

CLIP_INTERVAL_S = 1.0  # one frame per second of the moment
MIN_SEQUENCE = 2  # fewer frames than this show no motion; such a moment keeps its best frame
JPEG_QUALITY = 5  # ffmpeg's -q:v scale, 2 (best) to 31: small frames for the prompt
VIDEO_CRF = 32  # x264 quality of clips sent as video (higher: smaller)
DECODE_TIMEOUT_S = 60.0


def clip_times(start_s: float, end_s: float, max_frames: int, interval_s: float = CLIP_INTERVAL_S) -> list[float]:
    """Times over [start_s, end_s) one interval apart; when more than `max_frames`, evenly spread
    over the same span instead."""
    if max_frames <= 0 or end_s <= start_s:
        return []
    count = max(1, int((end_s - start_s - 1e-6) // interval_s) + 1)
    if count <= max_frames:
        return [round(start_s + i * interval_s, 3) for i in range(count)]
    if max_frames == 1:
        return [round((start_s + end_s) / 2, 3)]
    step = (end_s - start_s) / max_frames
    return [round(start_s + (i + 0.5) * step, 3) for i in range(max_frames)]


def plan_clips(moments: Sequence[Moment], videos: dict[str, Video], total_frames: int) -> list[list[float]]:
    """For each moment, best first, the times of its clip frames, until `total_frames` are used.
    A moment of a video without a picture, or with too few frames left, gets none."""
    plans: list[list[float]] = []
    left = total_frames
    for moment in moments:
        video = videos.get(moment.video_id)
        end = min(moment.end_s, video.duration_s) if video and video.duration_s else moment.end_s
        times = clip_times(moment.start_s, end, left) if video and video.has_video and video.file else []
        if len(times) < MIN_SEQUENCE:
            times = []
        plans.append(times)
        left -= len(times)
    return plans


class ClipFrames:
    """Clip frames of one library: decoded once, then read from the cache."""

    def __init__(self, frames_dir: Path, max_side: int):
        self.frames_dir = frames_dir
        self.max_side = max_side

    def _cache(self, video_id: str) -> Path:
        return self.frames_dir / video_id / "clips" / str(self.max_side)

    def frames(self, video: Video, times: Sequence[float]) -> list[Frame]:
        """The first frame at or after each time, in time order, each at its true timestamp
        (frames that several times share come once). [] when the video can't be decoded."""
        if not times:
            return []
        cache = self._cache(video.id)
        cached = {t: _cached(cache, t) for t in times}
        missing = [t for t, frame in cached.items() if frame is None]
        if missing:
            try:
                cached.update(self._decode(video, missing, cache))
            except (OSError, subprocess.SubprocessError) as e:
                log.warning("clip frames of %s at %s s: %s", video.name, missing, e)
        unique = {f.timestamp_s: f for f in cached.values() if f is not None}
        return [unique[t] for t in sorted(unique)]

    def _decode(self, video: Video, times: list[float], cache: Path) -> dict[float, Frame]:
        first, last = min(times), max(times)
        cache.mkdir(parents=True, exist_ok=True)
        # Targets relative to the seek point: ffmpeg's timestamps start at 0 there.
        picks = "+".join(f"gte(t,{t - first:.3f})*not(gte(prev_t,{t - first:.3f}))" for t in sorted(times))
        with tempfile.TemporaryDirectory(dir=cache, prefix=".decode-") as scratch:
            found, last_line = decode_frames(
                video.file, Path(scratch), f"select='{picks}'", max_side=self.max_side, quality=JPEG_QUALITY,
                count=len(times), seek_s=first, span_s=last - first + 2 * CLIP_INTERVAL_S,
                timeout_s=DECODE_TIMEOUT_S)
            if not found:
                raise OSError(last_line or "ffmpeg decoded nothing")
            decoded: dict[float, Frame] = {}
            for t in times:
                # The first decoded frame at or after t (each target selects exactly that frame).
                at, path = next(((at, path) for at, path in found if round(at, 3) >= t - 1e-3), (None, None))
                if at is None:
                    continue
                target = cache / f"{_ms(t)}_{_ms(round(at, 3))}.jpg"
                shutil.copyfile(path, target)
                decoded[t] = Frame(round(at, 3), str(target))
        return decoded

    def video_data_url(self, video: Video, start_s: float, end_s: float, fps: float) -> str | None:
        """The moment as a small H.264 MP4 (no sound), for endpoints that take `video_url` parts."""
        cache = self._cache(video.id)
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / f"{_ms(start_s)}-{_ms(end_s)}-{fps:g}.mp4"
        if not target.exists():
            partial = target.with_suffix(".part.mp4")
            command = [
                ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-ss", f"{start_s:.3f}", "-t", f"{end_s - start_s:.3f}", "-i", input_arg(video.file),
                "-map", "0:v:0", "-an", "-vf", f"fps={fps:g},{scale_filter(self.max_side)}",
                "-c:v", "libx264", "-crf", str(VIDEO_CRF), "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                str(partial),
            ]
            try:
                subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT_S, check=True)
                partial.replace(target)
            except (OSError, subprocess.SubprocessError) as e:
                log.warning("clip of %s at %s-%s s: %s", video.name, start_s, end_s, e)
                partial.unlink(missing_ok=True)
                return None
        return "data:video/mp4;base64," + base64.b64encode(target.read_bytes()).decode("ascii")


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000):09d}"


def _cached(cache: Path, t: float) -> Frame | None:
    """A frame decoded earlier for time t: its file name holds the time asked and the true time."""
    for path in cache.glob(f"{_ms(t)}_*.jpg"):
        return Frame(int(path.stem.split("_")[1]) / 1000, str(path))
    return None


VIDEO_FPS = 2.0  # frames per second of clips sent as video (Qwen2.5-VL merges frames in pairs)


def clip_context(settings, store, moments: Sequence[Moment]):
    """The Clip (rag.answering.prompt) for each of `moments`, best first, as the settings ask: sequence
    frames, the moment as a video, or nothing (VIDRAG_VLM_CLIP_FRAMES=0)."""
    from rag.answering.prompt import Clip

    if settings.vlm_clip_frames <= 0 or not moments:
        return []
    videos = {v.id: v for v in store.list_videos()}
    decoder = ClipFrames(settings.frames_dir, settings.vlm_clip_frame_side)
    clips = []
    # No more frames than a request may carry (build_prompt holds the cap whatever is planned).
    budget = min(settings.vlm_clip_frames, settings.vlm_max_images)
    for moment, times in zip(moments, plan_clips(moments, videos, budget), strict=True):
        video = videos.get(moment.video_id)
        if not times or video is None:
            clips.append(Clip())
        elif settings.vlm_clip_mode == "video_url":
            url = decoder.video_data_url(video, moment.start_s, max(times) + CLIP_INTERVAL_S, VIDEO_FPS)
            clips.append(Clip(video_url=url or "", max_side=decoder.max_side))
        else:
            clips.append(Clip(tuple(decoder.frames(video, times)), max_side=decoder.max_side))
    return clips
