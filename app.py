"""vidrag's web app: the frame every page shares (uploads, status) and the pages' navigation.
Renders only; `ingest` and `rag` do the work, and each page lives in app_pages/."""

from __future__ import annotations

import streamlit as st

from app_pages.common import start
from app_pages.sidebar import status_panel, upload_panel

st.set_page_config(page_title="vidrag", page_icon="🎬", layout="wide")

PAGES = [  # each reachable by URL: /, /library, /video?video=ID
    st.Page("app_pages/chat.py", title="Chat", icon="💬", default=True),
    st.Page("app_pages/library.py", title="Library", icon="📚"),
    st.Page("app_pages/video.py", title="Video", icon="🎬"),
]


def main() -> None:
    app = start()
    page = st.navigation(PAGES)
    with st.sidebar:
        st.title("vidrag")
        upload_panel(app)
    page.run()
    with st.sidebar:
        status_panel(app)


main()
