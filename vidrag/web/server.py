"""The web server that `vidrag serve` (and so `make run` and the image) starts.

It serves the app (vidrag/web/app.py and its pages) and one route more: the library's videos,
streamed from disk with HTTP range requests (vidrag/web/video_route.py). `streamlit run app.py`
in a checkout also works, but then the player falls back to st.video's media store, which holds
each opened video in memory.
"""

import streamlit as st

from rag.errors import VidragError
from rag.settings import load_settings
from vidrag.web.navigation import APP_SCRIPT
from vidrag.web.video_route import video_routes

try:
    routes = video_routes(load_settings())
except VidragError:  # a bad setting: the app itself says so on the page, in one line
    routes = []

app = st.App(str(APP_SCRIPT), routes=routes)
