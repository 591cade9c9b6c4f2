"""The Video page (`?video=ID`): one video with its player and transcript."""

from __future__ import annotations

import streamlit as st

from app_pages.common import App, current
from app_pages.literal import as_text
from app_pages.video_route import video_url
from rag.webvtt import to_webvtt


def render(app: App) -> None:
    video_id = st.query_params.get("video", "")
    video = app.library.store.get_video(video_id) if video_id else None
    if video is None:
        st.header("Video")
        st.info("No such video in the library: open one from the Library page.")
        st.page_link("app_pages/library.py", label="Library")
        return
    st.header(as_text(video.name))
    segments = [s for chunk in app.library.store.chunks(video.id) for s in chunk.segments]
    source = video_url(video.file) or video.file  # by URL, with range requests, under serve.py
    if video.has_video:
        st.video(source, subtitles={"Transcript": to_webvtt(segments)} if segments else None)
    else:
        st.audio(source)


render(current())
