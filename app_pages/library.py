"""The Library page: every video, each linking to its own page."""

from __future__ import annotations

import streamlit as st

from app_pages.common import App, as_text, current
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
            if video.tags:  # zero-shot tags, with the share of frames that carry each
                st.caption(as_text("Tags: " + ", ".join(f"{t['tag']} {t['share']:.0%}" for t in video.tags[:8])))


render(current())
