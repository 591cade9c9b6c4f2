"""vidrag's web page: upload, library, chat, player. Renders only; `ingest` and `rag` do the work."""

from __future__ import annotations

import streamlit as st

from ingest.jobs import JobQueue
from ingest.pipeline import STAGES, Ingestor
from ingest.uploads import UPLOAD_TYPES, save_uploads
from rag import Library, search_query
from rag.clock import format_clock
from rag.errors import AnswerError, VidragError
from rag.health import milvus_mode, vlm_status
from rag.settings import Settings, load_settings
from rag.types import Moment
from rag.webvtt import to_webvtt

HEALTH_TTL_S = 15  # how long a VLM status check is trusted
JOBS_REFRESH_S = 1.5  # how often the upload panel redraws while something is being ingested
EXCERPT_CHARS = 240
NO_MOMENTS = "No matching moments in your videos."
MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>~$:")

st.set_page_config(page_title="vidrag", page_icon="🎬", layout="wide")


# --- shared services: one per process and configuration, for every browser session ----------


@st.cache_resource(show_spinner=False)
def services(settings_json: str) -> tuple[Library, JobQueue]:
    settings = Settings.model_validate_json(settings_json)
    library = Library(settings)
    return library, JobQueue(Ingestor(settings, store=library.store))


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False)
def vlm_health(settings_json: str):
    return vlm_status(Settings.model_validate_json(settings_json))


def as_text(text: str) -> str:
    """Markdown that shows `text` exactly as it is: no links, no formatting, no HTML. Used for
    everything that comes from a user, a video or the model."""
    escaped = "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in text)
    return escaped.replace("\n", "  \n")


def play(video_id: str, start_s: float) -> None:
    st.session_state.playing = {"video_id": video_id, "start_s": start_s}


# --- sidebar: upload, progress, library, scope, status --------------------------------------


def upload_panel(jobs: JobQueue, settings: Settings) -> None:
    files = st.file_uploader(
        "Add videos", type=UPLOAD_TYPES, accept_multiple_files=True,
        help="Videos or audio, with optional .srt/.vtt subtitles named like their video.",
    )
    fresh = [f for f in files or [] if f.file_id not in st.session_state.seen_uploads]
    if fresh:
        st.session_state.seen_uploads.update(f.file_id for f in fresh)
        with st.spinner("Saving uploads..."):
            uploads = save_uploads([(f.name, f) for f in fresh], settings.data_dir / "uploads")
            for upload in uploads:
                jobs.submit(upload)
    # What this full run already shows; the progress fragment reruns the page for anything newer.
    st.session_state.finished_jobs = {j.id for j in jobs.jobs() if not j.active}
    job_progress(jobs)


@st.fragment(run_every=JOBS_REFRESH_S)
def job_progress(jobs: JobQueue) -> None:
    """Each upload's stages as they advance; redrawn on its own, so the page stays usable."""
    recent = jobs.jobs()[-8:]
    for job in reversed(recent):
        labels = {"queued": "waiting", "running": f"{job.stage or 'starting'}...", "done": "ready",
                  "exists": "already in the library", "failed": "failed"}
        state = {"queued": "running", "running": "running", "failed": "error"}.get(job.state, "complete")
        with st.status(f"{job.name}: {labels[job.state]}", state=state, expanded=job.active):
            if job.note:
                st.caption(as_text(job.note))
            if job.state == "failed":
                st.error(as_text(job.message))
            for warning in job.warnings:
                st.warning(as_text(warning))
            if job.state != "failed":
                for stage in STAGES:
                    st.progress(job.progress[stage], text=stage)
    if {j.id for j in recent if not j.active} - st.session_state.finished_jobs:
        st.rerun()  # an ingest finished since the page was drawn: redraw it, so the library shows it


def library_panel(library: Library, jobs: JobQueue) -> list[str]:
    """The videos, each deletable after a confirmation; returns the chat's scope."""
    videos = library.store.list_videos()
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
                    jobs.ingestor.remove(video.id)
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


def status_panel(settings: Settings, health) -> None:
    with st.expander("Status", expanded=not health.ok):
        st.caption(as_text(f"Index: {milvus_mode(settings)}"))
        st.caption(as_text(f"Answers: {health.detail}" if health.ok else f"Answers: off, {health.detail}"))
        st.caption(as_text(
            f"Models: Whisper {settings.whisper_model}; CLIP {settings.clip_model} {settings.clip_pretrained}; "
            f"text {settings.text_model}"
        ))


# --- main: player and chat ------------------------------------------------------------------


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
    segments = [s for chunk in library.store.chunks(video.id) for s in chunk.segments]
    subtitles = {"Transcript": to_webvtt(segments)} if segments else None
    # A new container key per request makes the browser load the player again at the new time.
    with st.container(key=f"player-{video.id}-{start}"):
        if video.has_video:
            st.video(video.file, start_time=start, subtitles=subtitles)
        else:
            st.audio(video.file, start_time=start)


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
        words.button(f"▶ Play from {format_clock(moment.start_s)}", key=f"source-{message_index}-{i}",
                     on_click=play, args=(moment.video_id, moment.start_s))


def citation_buttons(message: dict, message_index: int) -> None:
    """Supported citations become play buttons; unsupported ones stay plain text."""
    citations = message.get("citations", [])
    supported = [c for c in citations if c.supported]
    if supported:
        with st.container(horizontal=True):
            for i, citation in enumerate(supported):
                st.button(f"▶ {citation.label}", key=f"cite-{message_index}-{i}", on_click=play,
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
        try:
            st.write_stream(as_text(piece) for piece in answer)
        except AnswerError as e:
            error = f"{e}. Showing the moments instead."
            st.error(as_text(error))
        message = {"role": "assistant", "content": answer.text, "moments": answer.moments,
                   "citations": answer.citations, "error": error}
        citation_buttons(message, index)
        sources(answer.moments, index)
        return message


def main() -> None:
    try:
        settings = load_settings()
        settings_json = settings.model_dump_json()
        library, jobs = services(settings_json)
    except VidragError as error:  # one line, never a traceback
        st.error(as_text(str(error)))
        st.stop()
    for key, default in [("messages", []), ("playing", None), ("seen_uploads", set()), ("confirm_delete", None)]:
        st.session_state.setdefault(key, default)
    health = vlm_health(settings_json)

    with st.sidebar:
        st.title("vidrag")
        upload_panel(jobs, settings)
        scope = library_panel(library, jobs)
        status_panel(settings, health)

    if st.session_state.playing:
        player(library)
    if not health.ok:
        st.info(as_text(f"Search-only mode: the model server is not answering ({health.detail}). "
                        "Each question shows the best moments instead of an answer."))
    for index, message in enumerate(st.session_state.messages):
        show_message(message, index)
    question = st.chat_input("Ask about your videos")
    if question:
        st.session_state.messages.append({"role": "user", "content": question})
        show_message(st.session_state.messages[-1], len(st.session_state.messages) - 1)
        try:
            st.session_state.messages.append(ask(library, question, scope, answering=health.ok))
        except VidragError as error:
            st.error(as_text(str(error)))


main()
