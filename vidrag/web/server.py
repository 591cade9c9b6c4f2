"""The script `vidrag serve` (and so `make run` and the image) hands to `streamlit run`: the one
server process, assembled in vidrag/server/app.py. `streamlit run app.py` in a checkout also
works, but then there is no API, no MCP route, and the player falls back to st.video's media
store, which holds each opened video in memory.
"""

import streamlit as st

from rag.errors import VidragError
from rag.settings import load_settings
from vidrag.server.app import app_parts

try:
    parts = app_parts(load_settings())
except VidragError as error:  # a bad setting, or a bind that needs a token: one line, no server
    raise SystemExit(f"error: {error}") from None

app = st.App(**parts)  # `streamlit run` finds the app by this assignment (it reads, not runs, the script)
