"""The page logic with Streamlit's AppTest: real uploads, real ingest, a loopback VLM."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from conftest import COOKING_CUES, ROOT, make_video, write_srt
from openai_stub import StubVLM, is_describe_request, refused_url

TIMEOUT_S = 120


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S).run()


def _texts(app: AppTest) -> str:
    """Everything the page shows as text, with the page's markdown escaping taken off."""
    kinds = ("markdown", "caption", "text", "info", "error", "warning")
    parts = [e.value for kind in kinds for e in getattr(app, kind)]
    return "\n".join(str(p) for p in parts).replace("\\", "")


def _wait_for_library(app: AppTest, name: str) -> AppTest:
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        app.run()
        done = not any(j.active for j in app.session_state.app.jobs.jobs())  # the summary comes after "ready"
        if name in _texts(app) and "ready" in _texts(app) and done:
            return app
        time.sleep(0.5)
    raise AssertionError(f"{name} never became ready:\n{_texts(app)}")


@pytest.fixture
def uploaded(settings, monkeypatch, tmp_path):
    """The cooking clip and its subtitles, uploaded through the page's file uploader."""
    def upload(vlm_url: str) -> AppTest:
        monkeypatch.setenv("VIDRAG_VLM_BASE_URL", vlm_url)
        (tmp_path / "src").mkdir()
        video = make_video(tmp_path / "src" / "cooking.mp4", 45, audio=False, size="320x180", rate=5, gop=25)
        srt = write_srt(tmp_path / "src" / "cooking.srt", COOKING_CUES)
        app = _app()
        app.sidebar.file_uploader[0].set_value([
            ("cooking.mp4", video.read_bytes(), "video/mp4"), ("cooking.srt", srt.read_bytes(), "text/plain"),
        ]).run()
        return _wait_for_library(app, "cooking.mp4")

    return upload


def test_upload_is_ingested_and_stored_under_a_generated_name(uploaded, settings):
    app = uploaded(refused_url())
    assert "00:45 · 9 frames" in _texts(app)
    (stored,) = list((settings.data_dir / "videos").iterdir())
    assert stored.name != "cooking.mp4" and stored.suffix == ".mp4"
    # The upload itself is cleaned up when its job ends, a moment after the video shows as ready.
    deadline = time.monotonic() + 30
    while any((settings.data_dir / "uploads").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any((settings.data_dir / "uploads").iterdir())


def test_chat_turn_streams_an_answer_and_plays_a_citation(uploaded):
    with StubVLM(reply="Knead it for ten minutes [00:10]. Unrelated [12:00].") as stub:
        app = uploaded(stub.base_url)
        app.chat_input[0].set_value("How long do I knead the dough?").run()
        # The others described the frames and wrote the summary after the upload.
        chat = [r for r in stub.requests if r.get("stream") and not is_describe_request(r)]
        assert chat and chat[0]["messages"][-1]["content"][0]["text"].endswith(
            "Question: How long do I knead the dough?")
    texts = _texts(app)
    assert "Knead it for ten minutes [00:10]" in texts
    assert "Not found in the sources: [12:00]" in texts  # unsupported: text, not a button
    labels = [b.label.replace("\\", "") for b in app.button]  # labels are escaped markdown too
    assert "▶ [00:10]" in labels and "▶ [12:00]" not in labels
    next(b for b in app.button if b.label.replace("\\", "") == "▶ [00:10]").click().run()
    assert app.session_state.playing["start_s"] == 10.0
    (video,) = app.get("video")
    assert video.proto.start_time == 10 and video.proto.subtitles


def test_search_only_mode_shows_moments(uploaded):
    app = uploaded(refused_url())
    assert "Search-only mode" in _texts(app)
    app.chat_input[0].set_value("When do I preheat the oven?").run()
    assert "Preheat the oven" in _texts(app)
    assert any(b.label == "▶ Play from 00:25" for b in app.button)


def test_delete_asks_first(uploaded):
    app = uploaded(refused_url())
    delete = next(b for b in app.sidebar.button if b.label == "Delete")
    delete.click().run()
    assert "Delete cooking.mp4 and its frames?" in _texts(app)
    next(b for b in app.sidebar.button if b.label == "Delete" and b.key.startswith("yes-")).click().run()
    assert "No videos yet" in _texts(app)


def test_bad_upload_shows_one_line_next_to_the_file(settings, monkeypatch):
    monkeypatch.setenv("VIDRAG_VLM_BASE_URL", refused_url())
    app = _app()
    app.sidebar.file_uploader[0].set_value(("notes.mp4", b"not a video at all\n" * 40, "video/mp4")).run()
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline and not app.error:
        time.sleep(0.3)
        app.run()
    assert "notes.mp4 is not a video or audio file" in _texts(app)
    assert "No videos yet" in _texts(app)


def test_library_and_video_pages_are_reachable_by_url(uploaded):
    """The upload is summarized; the Library card shows it and a search finds it; its page opens
    from `?video=ID` with chapters that seek the player, and sets the chat's scope."""
    with StubVLM() as stub:
        app = uploaded(stub.base_url)
        app.switch_page("vidrag/web/pages/library.py").run()
        assert "cooking.mp4" in _texts(app) and "00:45" in _texts(app)
        assert "A video, summarized from" in _texts(app)  # the stub's summary, written after the upload
        app.text_input(key="video_query").set_value("knead the dough").run()
        assert "1 of 1 videos match" in _texts(app)
        (video_id,) = [v.id for v in app.session_state.app.library.store.list_videos()]
        app.query_params["video"] = video_id
        app.switch_page("vidrag/web/pages/video.py").run()
        chapters = [b for b in app.button if b.key.startswith("chapter-")]
        assert len(chapters) >= 2 and chapters[0].label.startswith("00:00 ")
        (player,) = app.get("video")
        assert player.proto.start_time == 0 and len(player.proto.subtitles) == 2  # transcript, chapters
        later = chapters[-1]
        later.click().run()
        (player,) = app.get("video")
        assert player.proto.start_time == int(app.session_state.seek["start_s"]) > 0
        assert later.label.startswith(f"00:{player.proto.start_time:02d} ")
        assert any(b.label == "00:10" for b in app.button)  # the transcript's segments seek too
        next(b for b in app.button if b.label == "Ask about this video").click().run()
        assert app.session_state.scope == [video_id]
        assert any(b.label == "Delete" for b in app.sidebar.button)  # back on the chat, with its sidebar
        app.query_params["video"] = "nosuchvideo"
        app.switch_page("vidrag/web/pages/video.py").run()
        assert "No such video in the library" in _texts(app)
