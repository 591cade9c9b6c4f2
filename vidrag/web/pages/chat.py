"""The Chat page: ask about your videos; answers stream with citations that open the player.
Its sidebar holds the library (with delete) and the chat's scope."""

from __future__ import annotations

import streamlit as st

from rag import Library, search_query
from rag.clock import format_clock
from rag.errors import AnswerError, VidragError
from rag.speakers import named
from rag.types import Moment
from rag.videos.captions import to_webvtt
from vidrag.web.common import App, current, play
from vidrag.web.literal import as_label, as_text
from vidrag.web.look import IMAGE_TYPES, image_search, more_like_this
from vidrag.web.video_route import video_url

EXCERPT_CHARS = 240
NO_MOMENTS = "No matching moments in your videos."


def library_panel(app: App) -> list[str]:
    """The videos, each deletable after a confirmation; returns the chat's scope."""
    videos = app.library.store.list_videos()
    st.subheader("Library")
    if not videos:
        st.caption("No videos yet: add some above.")
        return []
    for video in videos:
        with st.container(border=True):
            st.markdown(f"**{as_text(video.name)}**")
            details = [format_clock(video.duration_s)]
            details.append(f"{video.frames} frames" if video.has_video else "audio only")
            details += [video.language or "language unknown", "ready"]
            st.caption(as_text(" · ".join(details)))
            if st.session_state.get("confirm_delete") == video.id:
                st.warning(as_text(f"Delete {video.name} and its frames?"))
                yes, no = st.columns(2)
                if yes.button("Delete", key=f"yes-{video.id}", type="primary"):
                    app.jobs.ingestor.remove(video.id)
                    st.session_state.confirm_delete = None
                    if (st.session_state.playing or {}).get("video_id") == video.id:
                        st.session_state.playing = None
                    st.rerun()
                if no.button("Cancel", key=f"no-{video.id}"):
                    st.session_state.confirm_delete = None
                    st.rerun()
            elif st.button("Delete", key=f"delete-{video.id}"):
                st.session_state.confirm_delete = video.id
                st.rerun()
    names = {v.id: v.name for v in videos}
    return st.multiselect("Ask about", options=list(names), format_func=names.get,
                          placeholder="All videos", key="scope")


def stop_playing() -> None:
    st.session_state.playing = None


@st.dialog("Watch", width="large", on_dismiss=stop_playing)
def player(library: Library) -> None:
    """The video at the chosen moment, in a dialog: it opens over the chat, wherever the
    citation was clicked, and closing it goes back to where you were."""
    playing = st.session_state.playing
    video = library.store.get_video(playing["video_id"])
    if video is None:
        st.warning("This video is no longer in the library.")
        return
    start = int(playing["start_s"])
    st.markdown(f"**{as_text(video.name)}** from {format_clock(start)}")
    segments = named([s for chunk in library.store.chunks(video.id) for s in chunk.segments], video)
    subtitles = {"Transcript": to_webvtt(segments)} if segments else None
    # A new container key per request makes the browser load the player again at the new time.
    with st.container(key=f"player-{video.id}-{start}"):
        source = video_url(video.file) or video.file  # by URL, with range requests, under vidrag/web/server.py
        if video.has_video:
            st.video(source, start_time=start, subtitles=subtitles)
        else:
            st.audio(source, start_time=start)


def sources(moments: list[Moment], message_index: int) -> None:
    if not moments:
        return
    st.caption("Sources")
    for i, moment in enumerate(moments):
        picture, words = st.columns([1, 3])
        if moment.frame:
            picture.image(moment.frame.path, width=160)
        words.markdown(f"**{as_text(moment.video_name)}** {format_clock(moment.start_s)}-{format_clock(moment.end_s)}")
        excerpt = moment.text if len(moment.text) <= EXCERPT_CHARS else moment.text[:EXCERPT_CHARS] + "…"
        if excerpt:
            words.caption(as_text(excerpt))
        if moment.seen:
            seen = moment.seen if len(moment.seen) <= EXCERPT_CHARS else moment.seen[:EXCERPT_CHARS] + "…"
            words.caption(as_text(f"Seen: {seen}"))
        if moment.screen:
            screen = " / ".join(moment.screen.splitlines())
            screen = screen if len(screen) <= EXCERPT_CHARS else screen[:EXCERPT_CHARS] + "…"
            words.caption(as_text(f"Written on screen: {screen}"))
        with words.container(horizontal=True):
            st.button(f"▶ Play from {format_clock(moment.start_s)}", key=f"source-{message_index}-{i}",
                      on_click=play, args=(moment.video_id, moment.start_s))
            if moment.frame:
                st.button("More like this", key=f"similar-{message_index}-{i}", on_click=more_like_this,
                          args=(moment,))


def citation_buttons(message: dict, message_index: int) -> None:
    """Supported citations become play buttons; unsupported ones stay plain text."""
    citations = message.get("citations", [])
    supported = [c for c in citations if c.supported]
    if supported:
        with st.container(horizontal=True):
            for i, citation in enumerate(supported):
                st.button(as_label(f"▶ {citation.label}"), key=f"cite-{message_index}-{i}", on_click=play,
                          args=(citation.video_id, citation.start_s))
    unsupported = [c.label for c in citations if not c.supported]
    if unsupported:
        st.caption(as_text(f"Not found in the sources: {', '.join(unsupported)}"))


def show_message(message: dict, index: int) -> None:
    with st.chat_message(message["role"]):
        if message.get("content"):
            st.markdown(as_text(message["content"]))
        if message.get("error"):
            st.error(as_text(message["error"]))
        if message["role"] == "assistant":
            citation_buttons(message, index)
            sources(message.get("moments", []), index)


def ask(library: Library, question: str, scope: list[str], answering: bool) -> dict:
    """Answer one question in the chat, streaming; or, in search-only mode, show its moments."""
    history = [{"role": m["role"], "content": m.get("content", "")} for m in st.session_state.messages[:-1]]
    index = len(st.session_state.messages)
    with st.chat_message("assistant"):
        if not answering:
            with st.spinner("Finding moments..."):
                moments = library.search(search_query(question, history), video_ids=scope or None)
            if not moments:
                st.markdown(NO_MOMENTS)
            message = {"role": "assistant", "content": "" if moments else NO_MOMENTS,
                       "moments": moments, "citations": []}
            sources(moments, index)
            return message
        with st.spinner("Finding moments..."):
            answer = library.answer(question, history=history, video_ids=scope or None)
        if not answer.moments:
            st.markdown(NO_MOMENTS)
            return {"role": "assistant", "content": NO_MOMENTS, "moments": []}
        error = None
        streamed = st.empty()
        try:
            for _ in answer:  # the whole text so far, escaped as one: a link split across pieces stays text
                streamed.markdown(as_text(answer.text))
        except AnswerError as e:
            error = f"{e}. Showing the moments instead."
            st.error(as_text(error))
        cut = " [answer cut short]" if answer.cut else ""  # the deadline, or a stream that broke off
        message = {"role": "assistant", "content": answer.text + cut, "moments": answer.moments,
                   "citations": answer.citations, "error": error}
        citation_buttons(message, index)
        sources(answer.moments, index)
        return message


def render(app: App) -> None:
    health = app.health
    with st.sidebar:
        scope = library_panel(app)
    if st.session_state.playing:
        player(app.library)
    if not health.ok:
        st.info(as_text(f"Search-only mode: the model server is not answering ({health.detail}). "
                        "Each question shows the best moments instead of an answer."))
    for index, message in enumerate(st.session_state.messages):
        show_message(message, index)
    # An image pasted or attached searches by what it shows (with the words, if any).
    submitted = st.chat_input("Ask about your videos, or paste an image", accept_file=True, file_type=IMAGE_TYPES)
    question = submitted.text if submitted else ""
    if submitted and submitted.files:
        image = submitted.files[0]
        st.session_state.messages.append({"role": "user", "content": f"{question} [image: {image.name}]".strip()})
        st.session_state.messages.append(image_search(question, image, scope))
        st.rerun()
    elif question:
        st.session_state.messages.append({"role": "user", "content": question})
        show_message(st.session_state.messages[-1], len(st.session_state.messages) - 1)
        try:
            st.session_state.messages.append(ask(app.library, question, scope, answering=health.ok))
        except VidragError as error:
            st.error(as_text(str(error)))


render(current())
