"""The page renders from the real store: empty library, then an indexed video."""

from streamlit.testing.v1 import AppTest

from conftest import ROOT, make_video


def test_page_lists_the_library(settings, ingestor, tmp_path):
    video = make_video(tmp_path / "garden tour.mp4", 6, audio=False)
    ingestor.add(video)
    ingestor.store.close()  # the page opens its own connection to the same Milvus Lite file
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert any("garden tour.mp4" in t.value and "2 frames" in t.value for t in app.text)


def test_page_says_when_empty(settings):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert "No videos yet" in app.info[0].value
