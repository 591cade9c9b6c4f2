"""What every page shares: the process-wide services, the session's defaults, and literal text."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ingest.jobs import JobQueue
from rag import Library
from rag.answering.health import vlm_status
from rag.errors import VidragError
from rag.settings import Settings, load_settings
from vidrag.web.literal import as_text  # noqa: F401  (pages import it from here too)

HEALTH_TTL_S = 15  # how long a VLM status check is trusted
SESSION_DEFAULTS = {"messages": list, "playing": lambda: None, "seen_uploads": set, "confirm_delete": lambda: None}


@dataclass
class App:
    """The services a page draws on, for this run."""

    settings: Settings
    settings_json: str
    library: Library
    jobs: JobQueue

    @property
    def health(self):
        return vlm_health(self.settings_json)


def services(settings_json: str) -> tuple[Library, JobQueue]:
    """One library and one ingest queue per process and configuration, for every browser session
    and for the server's API and MCP routes (vidrag/server/services.py)."""
    from vidrag.server.services import services as shared

    opened = shared(Settings.model_validate_json(settings_json))
    return opened.library, opened.jobs


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False)
def vlm_health(settings_json: str):
    return vlm_status(Settings.model_validate_json(settings_json))


def start() -> App:
    """The services for this run, or one line on the page (never a traceback) and a stop."""
    try:
        settings = load_settings()
        settings_json = settings.model_dump_json()
        library, jobs = services(settings_json)
    except VidragError as error:
        st.error(as_text(str(error)))
        st.stop()
    for key, default in SESSION_DEFAULTS.items():
        st.session_state.setdefault(key, default())
    app = App(settings, settings_json, library, jobs)
    st.session_state.app = app
    return app


def current() -> App:
    """The services app.py started for this run (a page script is run from inside app.py)."""
    return st.session_state.app


def excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def video_tags(video) -> list[str]:
    """The video's zero-shot tags, best first, each with the share of frames that carry it."""
    return [f"{t['tag']} {t['share']:.0%}" for t in video.tags if t.get("tag")]


def play(video_id: str, start_s: float) -> None:
    st.session_state.playing = {"video_id": video_id, "start_s": start_s}
