"""The Library page: the videos as a grid of cards (thumbnail, name, duration, language, tags,
summary), a search box that ranks whole videos, sorting and pages. A page of cards reads its own
thumbnails and summaries only (two lookups by id), so a library of hundreds stays quick."""

from __future__ import annotations

import math

import streamlit as st

from rag.clock import format_clock
from rag.errors import VidragError
from rag.store.videos import VideoIndex
from rag.types import Video
from rag.videos.search import search_videos
from vidrag.web.common import App, current, excerpt, video_tags
from vidrag.web.literal import as_text
from vidrag.web.navigation import VIDEO_PAGE

CARDS_PER_ROW = 4
CARDS_PER_PAGE = 24
SEARCH_RESULTS = 96  # videos a search shows at most
SUMMARY_EXCERPT_CHARS = 160
SORTS = {
    "Newest": (lambda v: v.created, True),
    "Oldest": (lambda v: v.created, False),
    "Name": (lambda v: v.name.lower(), False),
    "Longest": (lambda v: v.duration_s, True),
    "Shortest": (lambda v: v.duration_s, False),
}
RELEVANCE = "Best match"


def matching(app: App, query: str) -> list[str] | None:
    """Ids of the videos that match `query`, best first (None without a query). Kept for the
    session, so turning pages doesn't search again."""
    if not query.strip():
        return None
    cache = st.session_state.setdefault("video_searches", {})
    if query not in cache:
        with st.spinner("Searching videos..."):
            cache[query] = [r.video.id for r in search_videos(app.library, query, k=SEARCH_RESULTS)]
    return cache[query]


def card(video: Video, thumbnail: str | None, summary: dict | None) -> None:
    with st.container(border=True):
        if thumbnail:
            st.image(thumbnail, width="stretch")
        elif not video.has_video:
            st.caption("audio only")
        st.markdown(f"**{as_text(video.name)}**")
        st.caption(as_text(f"{format_clock(video.duration_s)} · {video.language or 'language unknown'}"))
        if tags := video_tags(video):
            st.caption(as_text(" · ".join(tags[:5])))
        if summary:
            st.caption(as_text(excerpt(summary.get("summary", ""), SUMMARY_EXCERPT_CHARS)))
        st.page_link(VIDEO_PAGE, label="Open", icon="▶", query_params={"video": video.id})


def render(app: App) -> None:
    st.header("Library")
    videos = {v.id: v for v in app.library.store.list_videos()}
    if not videos:
        st.caption("No videos yet: add some in the sidebar.")
        return
    query_col, sort_col = st.columns([3, 1])
    query = query_col.text_input("Find videos", placeholder="e.g. cooking, a talk about glaciers", key="video_query")
    try:
        found = matching(app, query)
    except VidragError as error:
        st.error(as_text(str(error)))
        found = None
    sorts = ([RELEVANCE] if found is not None else []) + list(SORTS)
    order = sort_col.selectbox("Sort by", sorts, key=f"sort-{found is not None}")
    if found is not None:
        shown = [videos[vid] for vid in found if vid in videos]
        st.caption(f"{len(shown)} of {len(videos)} videos match")
    else:
        shown = list(videos.values())
    if order != RELEVANCE:
        key, descending = SORTS[order]
        shown.sort(key=key, reverse=descending)
    pages = max(1, math.ceil(len(shown) / CARDS_PER_PAGE))
    page = st.number_input("Page", 1, pages, 1, key="library_page") if pages > 1 else 1
    on_page = shown[(page - 1) * CARDS_PER_PAGE : page * CARDS_PER_PAGE]
    store = app.library.store
    thumbnails = {vid: f.path for vid, f in store.frames_by_index([(v.id, v.frames // 2) for v in on_page if v.frames])}
    summaries = VideoIndex(store).summaries([v.id for v in on_page])
    for start in range(0, len(on_page), CARDS_PER_ROW):
        for column, video in zip(st.columns(CARDS_PER_ROW), on_page[start : start + CARDS_PER_ROW], strict=False):
            with column:
                card(video, thumbnails.get(video.id), summaries.get(video.id))
    if pages > 1:
        st.caption(f"Page {page} of {pages}")


render(current())
