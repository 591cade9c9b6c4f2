"""The Library page: every video, each linking to its own page."""

from __future__ import annotations

import streamlit as st

from app_pages.common import App, current
from app_pages.literal import as_text
from rag.clock import format_clock


def render(app: App) -> None:
    st.header("Library")
    videos = app.library.store.list_videos()
    if not videos:
        st.caption("No videos yet: add some in the sidebar.")
        return
    for video in videos:
        with st.container(border=True):
            st.markdown(f"**{as_text(video.name)}**")
            st.page_link("app_pages/video.py", label="Open", query_params={"video": video.id})
            st.caption(as_text(f"{format_clock(video.duration_s)} · {video.language or 'language unknown'}"))


render(current())
