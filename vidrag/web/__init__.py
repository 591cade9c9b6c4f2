"""The web app (Streamlit) and the server around it."""
