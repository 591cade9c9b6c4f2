"""The web app's pages (chat.py, library.py, video.py: scripts that `st.navigation` in app.py runs)
and the parts they share (common.py, sidebar.py). Not named `pages/`: Streamlit would treat such a
folder as its own older multipage layout."""
