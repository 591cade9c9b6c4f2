"""The page `python -m bench player` serves: one video, played the way the mode says."""

import os

import streamlit as st

from vidrag.web.video_route import video_url

video = os.environ["VIDRAG_BENCH_VIDEO"]
mode = os.environ["VIDRAG_BENCH_MODE"]
st.video(video_url(video) if mode == "route" else video)  # "media-store": what st.video(path) did
