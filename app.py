"""vidrag's web page. Renders only: the work is done by `ingest` and `rag`."""

import streamlit as st

from rag.settings import Settings
from rag.store import Store

st.set_page_config(page_title="vidrag", page_icon="🎬", layout="wide")
settings = Settings()


@st.cache_resource
def open_store() -> Store:
    return Store(settings)


st.title("vidrag")
st.caption("Chat with your videos, on your own hardware.")
try:
    videos = open_store().list_videos()
except Exception as error:  # shown as one line, never a traceback
    st.error(str(error))
    st.stop()

if not videos:
    st.info("No videos yet. Add some with `python -m ingest add PATH`.")
for video in videos:
    minutes, seconds = divmod(int(video.duration_s), 60)
    st.text(f"{video.name}  ·  {minutes}:{seconds:02d}  ·  {video.frames} frames  ·  {video.language or '--'}")
