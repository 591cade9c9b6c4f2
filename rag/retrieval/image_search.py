"""Search by image: a picture as the query, and "more like this" for a moment of a video.

The image is embedded with CLIP's image tower, the one that embedded every frame at ingest, and
the nearest frames become moments through the existing Searcher (signal "image"), so a query with
both text and an image fuses the two like any other signals.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import VidragError

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP"}


def check_query_image(path) -> Path:
    """The path, once it is known to hold a JPEG, PNG or WebP image of at least 1x1 pixel;
    otherwise VidragError with one line saying what is wrong with it."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise VidragError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise VidragError(f"{path.name}: the image file is empty")
    try:
        with Image.open(path) as image:
            kind, (width, height) = image.format, image.size
            image.load()  # decodes it: a truncated file fails here, not in CLIP
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise VidragError(f"{path.name}: not a JPEG, PNG or WebP image ({type(e).__name__})") from e
    if kind not in IMAGE_FORMATS:
        raise VidragError(f"{path.name}: a {kind} image; use JPEG, PNG or WebP")
    if width == 0 or height == 0:
        raise VidragError(f"{path.name}: the image is {width}x{height} pixels")
    return path


def similar(searcher, video_id: str, at_s: float, k: int | None = None) -> list:
    """Moments across the library that look like the frame of `video_id` nearest `at_s`, that
    moment itself left out."""
    store = searcher.store
    video = store.get_video(video_id)
    if video is None:
        raise VidragError(f"no video with id {video_id}")
    frames = store.frames(video.id)
    if not frames:
        raise VidragError(f"{video.name} has no frames (audio only)")
    if at_s < 0 or (video.duration_s and at_s > video.duration_s):
        raise VidragError(f"--at {at_s:g} is outside {video.name} (0 to {video.duration_s:g} s)")
    frame = min(frames, key=lambda f: abs(f.timestamp_s - at_s))
    k = k or searcher.settings.search_k
    moments = searcher.search("", image=frame.path, k=k + 2)

    def itself(m) -> bool:
        same_frame = m.frame is not None and m.frame.path == frame.path
        return m.video_id == video.id and (same_frame or m.start_s <= frame.timestamp_s < m.end_s)

    return [m for m in moments if not itself(m)][:k]
