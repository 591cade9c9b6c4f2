"""The Video page (`?video=ID`): the player with its chapters, the summary, the transcript with a
time per segment, the descriptions and tags, similar videos, and what can be done with the video:
ask about it, summarize it (again), delete it. A click on a chapter or a segment seeks the player."""

from __future__ import annotations

import streamlit as st

from rag.clock import format_clock
from rag.errors import VidragError
from rag.speakers import named
from rag.store.videos import VideoIndex
from rag.types import Segment, Video
from rag.videos.captions import chapters_to_webvtt, to_webvtt
from rag.videos.search import similar_videos
from rag.videos.summarize import VideoSummary, summarize_video
from vidrag.web.common import App, current, video_tags
from vidrag.web.literal import as_label, as_text
from vidrag.web.navigation import CHAT_PAGE, LIBRARY_PAGE, VIDEO_PAGE
from vidrag.web.speakers import speakers_section
from vidrag.web.video_route import video_url

SEGMENTS_PER_PART = 100  # transcript rows drawn at a time: a 3-hour talk has thousands
SIMILAR_VIDEOS = 5


def seek(video_id: str, start_s: float) -> None:
    st.session_state.seek = {"video_id": video_id, "start_s": start_s}


def player(video: Video, segments: list[Segment], summary: VideoSummary | None) -> None:
    """The player, at the last time asked for. The chapters come as a second text track (st.video
    makes subtitle tracks only): a browser lists it beside the transcript."""
    wanted = st.session_state.get("seek") or {}
    start = int(wanted.get("start_s", 0)) if wanted.get("video_id") == video.id else 0
    tracks = {}
    if segments:
        tracks["Transcript"] = to_webvtt(segments)
    if summary and summary.chapters:
        tracks["Chapters"] = chapters_to_webvtt([(c.start_s, c.title) for c in summary.chapters], video.duration_s)
    # A new container key per seek makes the browser load the player again at the new time.
    with st.container(key=f"video-{video.id}-{start}"):
        source = video_url(video.file) or video.file  # by URL, with range requests, under vidrag/web/server.py
        if video.has_video:
            st.video(source, start_time=start, subtitles=tracks or None)
        else:
            st.audio(source, start_time=start)


def chapters(video: Video, summary: VideoSummary) -> None:
    st.subheader("Chapters")
    for i, chapter in enumerate(summary.chapters):
        st.button(f"{format_clock(chapter.start_s)} {as_label(chapter.title)}", key=f"chapter-{i}", on_click=seek,
                  args=(video.id, chapter.start_s), type="tertiary")


def timed_lines(video: Video, title: str, lines: list[Segment], key: str) -> None:
    """Segments (or descriptions), a part at a time, each with a time that seeks the player."""
    with st.expander(as_label(f"{title} ({len(lines)})"), expanded=key == "transcript"):
        parts = [lines[i : i + SEGMENTS_PER_PART] for i in range(0, len(lines), SEGMENTS_PER_PART)]
        part = 0
        if len(parts) > 1:
            labels = [f"{format_clock(p[0].start_s)}-{format_clock(p[-1].end_s)}" for p in parts]
            part = st.selectbox("Part", range(len(parts)), format_func=labels.__getitem__, key=f"{key}-part")
        for i, line in enumerate(parts[part] if parts else []):
            when, words = st.columns([1, 7], vertical_alignment="center")
            when.button(format_clock(line.start_s), key=f"{key}-{part}-{i}", on_click=seek,
                        args=(video.id, line.start_s), type="tertiary")
            words.markdown((f"**{as_text(line.speaker)}:** " if line.speaker else "") + as_text(line.text))


def summary_section(app: App, video: Video, summary: VideoSummary | None) -> None:
    st.subheader("Summary")
    if summary:
        st.markdown(as_text(summary.summary))
        st.caption(as_text(f"Written by {summary.model} on {summary.created[:10]}"))
    else:
        st.caption("No summary yet." if app.health.ok else "No summary yet; the model server is not answering.")
    if st.button("Regenerate" if summary else "Summarize", key="summarize", disabled=not app.health.ok):
        try:
            with st.spinner("Writing the summary and chapters..."):
                summarize_video(app.library.store, app.settings, video.id, force=True)
            st.rerun()
        except VidragError as error:
            st.error(as_text(str(error)))


def actions(app: App, video: Video) -> None:
    ask, delete = st.columns(2)
    if ask.button("Ask about this video", key="ask-about", icon="💬"):
        st.session_state.scope = [video.id]  # the chat's scope picker reads it
        st.switch_page(CHAT_PAGE)
    if st.session_state.get("confirm_delete") == video.id:
        st.warning(as_text(f"Delete {video.name} and its frames?"))
        yes, no = st.columns(2)
        if yes.button("Delete", key="video-delete-yes", type="primary"):
            app.jobs.ingestor.remove(video.id)
            st.session_state.confirm_delete = None
            st.switch_page(LIBRARY_PAGE)
        if no.button("Cancel", key="video-delete-no"):
            st.session_state.confirm_delete = None
            st.rerun()
    elif delete.button("Delete", key="video-delete", icon="🗑"):
        st.session_state.confirm_delete = video.id
        st.rerun()


def similar(app: App, video: Video) -> None:
    st.subheader("Similar videos")
    try:
        results = similar_videos(app.library, video.id, k=SIMILAR_VIDEOS)
    except VidragError as error:
        st.caption(as_text(str(error)))
        return
    if not results:
        st.caption("No other videos yet.")
    for result in results:
        st.page_link(VIDEO_PAGE, label=as_label(f"{result.video.name} ({result.score:.2f})"),
                     query_params={"video": result.video.id})


def render(app: App) -> None:
    video_id = st.query_params.get("video", "")
    video = app.library.store.get_video(video_id) if video_id else None
    if video is None:
        st.header("Video")
        st.info("No such video in the library: open one from the Library page.")
        st.page_link(LIBRARY_PAGE, label="Library")
        return
    st.header(as_text(video.name))
    if video.extra.get("source_url"):  # added by URL: where it came from, as text (never a live link)
        st.caption(as_text(f"From {video.extra['source_url']}"))
    details = [format_clock(video.duration_s), video.language or "language unknown"]
    details.append(f"{video.frames} frames" if video.has_video else "audio only")
    st.caption(as_text(" · ".join(details)))
    stored = VideoIndex(app.library.store).get_summary(video.id)
    summary = VideoSummary.from_info(stored) if stored else None
    raw_segments, descriptions, screen = app.library.store.video_text(video.id)
    segments = named(raw_segments, video)

    watch, about = st.columns([3, 2])
    with watch:
        player(video, segments, summary)
        actions(app, video)
        timed_lines(video, "Transcript", segments, "transcript")
        if descriptions:
            timed_lines(video, "What is seen", descriptions, "descriptions")
        if screen:  # a row's lines, on one line each
            lines = [Segment(s.start_s, s.end_s, " / ".join(s.text.splitlines())) for s in screen]
            timed_lines(video, "Written on screen", lines, "screen")
    with about:
        if summary and summary.chapters:
            chapters(video, summary)
        summary_section(app, video, summary)
        speakers_section(app.library.store, video, raw_segments)
        if tags := video_tags(video):
            st.subheader("Tags")
            st.markdown(as_text(" · ".join(tags)))
        similar(app, video)


render(current())
