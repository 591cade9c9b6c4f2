"""vidrag's web page. Renders only: the work is done by `ingest` and `rag`."""

import streamlit as st

from rag.errors import VidragError
from rag.settings import load_settings
from rag.store import Store

st.set_page_config(page_title="vidrag", page_icon="🎬", layout="wide")


@st.cache_resource
def open_store(settings_json: str) -> Store:
    """One connection per process and configuration, shared by every browser session."""
    from rag.settings import Settings

    return Store(Settings.model_validate_json(settings_json))


st.title("vidrag")
st.caption("Chat with your videos, on your own hardware.")
try:
    videos = open_store(load_settings().model_dump_json()).list_videos()
except VidragError as error:  # one line, never a traceback
    st.error(str(error))
    st.stop()

if not videos:
    st.info("No videos yet. Add some with `python -m ingest add PATH`.")
for video in videos:
    minutes, seconds = divmod(int(video.duration_s), 60)
    st.text(f"{video.name}  ·  {minutes}:{seconds:02d}  ·  {video.frames} frames  ·  {video.language or '--'}")
