"""vidrag's web app: the frame every page shares (uploads, status) and the pages' navigation.
Renders only; `ingest` and `rag` do the work, and each page lives in vidrag/web/pages/."""

from __future__ import annotations

import streamlit as st

from vidrag.web.common import start
from vidrag.web.navigation import CHAT_PAGE, LIBRARY_PAGE, VIDEO_PAGE
from vidrag.web.sidebar import status_panel, upload_panel


def main() -> None:
    st.set_page_config(page_title="vidrag", page_icon="🎬", layout="wide")
    pages = [  # each reachable by URL: /, /library, /video?video=ID
        st.Page(CHAT_PAGE, title="Chat", icon="💬", default=True),
        st.Page(LIBRARY_PAGE, title="Library", icon="📚"),
        st.Page(VIDEO_PAGE, title="Video", icon="🎬"),
    ]
    app = start()
    page = st.navigation(pages)
    with st.sidebar:
        st.title("vidrag")
        upload_panel(app)
    page.run()
    with st.sidebar:
        status_panel(app)


if __name__ == "__main__":  # Streamlit runs its main script as __main__ (vidrag serve)
    main()
