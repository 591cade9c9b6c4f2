"""The sidebar every page shows: uploads with their progress, and the status of the services."""

from __future__ import annotations

import streamlit as st

from ingest.jobs import JobQueue
from ingest.uploads import UPLOAD_TYPES, save_uploads
from rag.answering.health import milvus_mode
from rag.errors import VidragError
from vidrag.web.common import App
from vidrag.web.literal import as_label, as_text

JOBS_REFRESH_S = 1.5  # how often the upload panel redraws while something is being ingested


def upload_panel(app: App) -> None:
    files = st.file_uploader(
        "Add videos", type=UPLOAD_TYPES, accept_multiple_files=True,
        help="Videos or audio, with optional .srt/.vtt subtitles named like their video.",
    )
    fresh = [f for f in files or [] if f.file_id not in st.session_state.seen_uploads]
    if fresh:
        st.session_state.seen_uploads.update(f.file_id for f in fresh)
        with st.spinner("Saving uploads..."):
            uploads = save_uploads([(f.name, f) for f in fresh], app.settings.data_dir / "uploads")
            for upload in uploads:
                app.jobs.submit(upload)
    with st.form("add_url", clear_on_submit=True, border=False):
        url = st.text_input("Add by URL", placeholder="https://...", help="A video page or a direct media link.")
        if st.form_submit_button("Add URL") and url.strip():
            try:
                app.jobs.submit_url(url)
            except VidragError as error:
                st.error(as_text(str(error)))
    # What this full run already shows; the progress fragment reruns the page for anything newer.
    st.session_state.finished_jobs = {j.id for j in app.jobs.jobs() if not j.active}
    job_progress(app.jobs)


@st.fragment(run_every=JOBS_REFRESH_S)
def job_progress(jobs: JobQueue) -> None:
    """Each upload's stages as they advance; redrawn on its own, so the page stays usable."""
    recent = jobs.jobs()[-8:]
    for job in reversed(recent):
        labels = {"queued": "waiting", "running": f"{job.stage or 'starting'}...", "done": "ready",
                  "exists": "already in the library", "failed": "failed"}
        state = {"queued": "running", "running": "running", "failed": "error"}.get(job.state, "complete")
        with st.status(as_label(f"{job.name}: {labels[job.state]}"), state=state, expanded=job.active):
            if job.kind == "url":
                st.caption(as_text(job.result.get("source_url") or job.source))
            if job.note:
                st.caption(as_text(job.note))
            if job.state == "failed":
                st.error(as_text(job.message))
            for warning in job.warnings:
                st.warning(as_text(warning))
            if job.state != "failed":
                for stage in job.progress:
                    st.progress(job.progress[stage], text=stage)
    if {j.id for j in recent if not j.active} - st.session_state.finished_jobs:
        st.rerun()  # an ingest finished since the page was drawn: redraw it, so the library shows it


def status_panel(app: App) -> None:
    settings, health = app.settings, app.health
    with st.expander("Status", expanded=not health.ok):
        st.caption(as_text(f"Index: {milvus_mode(settings)}"))
        st.caption(as_text(f"Answers: {health.detail}" if health.ok else f"Answers: off, {health.detail}"))
        st.caption(as_text(
            f"Models: Whisper {settings.whisper_model}; CLIP {settings.clip_model} {settings.clip_pretrained}; "
            f"text {settings.text_model}"
        ))
