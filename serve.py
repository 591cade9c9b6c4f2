"""The web server: `streamlit run serve.py` (what `make run` and the image do).

It serves the app (app.py and its pages) and one route more: the library's videos, streamed from
disk with HTTP range requests (app_pages/video_route.py). `streamlit run app.py` also works, but
then the player falls back to st.video's media store, which holds each opened video in memory.
"""

import streamlit as st

from app_pages.video_route import video_routes
from rag.errors import VidragError
from rag.settings import load_settings

try:
    routes = video_routes(load_settings())
except VidragError:  # a bad setting: the app itself says so on the page, in one line
    routes = []

app = st.App("app.py", routes=routes)
