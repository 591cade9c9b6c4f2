"""Where the app's pages are: absolute paths, so the app runs the same from a checkout
(`streamlit run app.py`) and from an installed package (`vidrag serve`)."""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "pages"
CHAT_PAGE = str(PAGES_DIR / "chat.py")
LIBRARY_PAGE = str(PAGES_DIR / "library.py")
VIDEO_PAGE = str(PAGES_DIR / "video.py")
APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
