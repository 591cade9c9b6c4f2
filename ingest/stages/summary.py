"""After an add: the video's summary and chapters, when VIDRAG_SUMMARIZE says so. A summary that
cannot be written is a warning: the video itself is indexed and stays."""

from __future__ import annotations

from rag.answering.health import vlm_status
from rag.errors import VidragError
from rag.settings import Settings
from rag.types import Video
from rag.videos.summarize import summarize_video

NAME = "summary"


def run_after(settings: Settings, store, video: Video) -> list[str]:
    """Warnings for the user; none when the summary was written or was not wanted."""
    if settings.summarize == "off" or (settings.summarize == "auto" and not vlm_status(settings).ok):
        return []
    try:
        summarize_video(store, settings, video.id, force=True)
    except VidragError as e:
        return [f"no summary: {e}"]
    return []
