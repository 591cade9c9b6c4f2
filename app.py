"""vidrag's web app, for `streamlit run app.py` in a checkout. `vidrag serve` runs the same app
(vidrag/web/app.py) with the route that streams the library's videos beside it."""

from vidrag.web.app import main

main()
