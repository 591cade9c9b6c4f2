"""Links that open a video at a time, for programs that show vidrag's moments (LlamaIndex, MCP)."""

from __future__ import annotations

import os
from pathlib import Path

from rag.types import Video


def video_url(video: Video | None, start_s: float, end_s: float | None = None) -> str:
    """The video's file with a media fragment (`file:///…/id.mp4#t=10,14.8`), which browsers and
    most players open at that time. Empty when the video's file is unknown."""
    if video is None or not video.file:
        return ""
    span = _seconds(start_s) + ("" if end_s is None else "," + _seconds(end_s))
    # abspath, not resolve: vidrag's copy may be a link to the original, and the copy is what lasts.
    return f"{Path(os.path.abspath(video.file)).as_uri()}#t={span}"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
