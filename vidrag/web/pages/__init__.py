"""The app's pages: each file is one Streamlit page script."""
