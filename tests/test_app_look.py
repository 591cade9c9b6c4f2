"""The Chat page's image search (an image attached or pasted to the chat input) and "More like
this" on a source, with Streamlit's AppTest on a real library."""

import io

from streamlit.testing.v1 import AppTest

from conftest import ROOT, make_video
from openai_stub import refused_url
from rag.clock import format_clock


def _texts(app: AppTest) -> str:
    kinds = ("markdown", "caption", "text", "info", "error", "warning")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(app, kind)).replace("\\", "")


def test_an_image_in_the_chat_finds_moments_and_more_like_this_finds_others(settings, monkeypatch, tmp_path):
    from PIL import Image

    from ingest.pipeline import Ingestor

    monkeypatch.setenv("VIDRAG_VLM_BASE_URL", refused_url())
    ingestor = Ingestor(settings)
    video = make_video(tmp_path / "colours.mp4", 20, audio=False, size="160x120", rate=5, gop=5,
                       extra=("-vf", "hue=h=t*40"))
    added = ingestor.add(video).video
    frame = ingestor.store.frames(added.id)[2]
    ingestor.store.close()
    png = io.BytesIO()
    with Image.open(frame.path) as image:
        image.save(png, format="PNG")

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    app.chat_input[0].upload("query.png", png.getvalue(), "image/png").run()
    assert "query.png" in _texts(app)
    assert app.button[0].label == f"▶ Play from {format_clock(frame.timestamp_s)}"  # the frame's own moment first
    more = [b for b in app.button if b.label == "More like this"]
    assert more
    before = len(app.session_state.messages)
    more[0].click().run()
    messages = app.session_state.messages
    assert len(messages) == before + 2 and messages[-2]["content"].startswith("More like this: colours.mp4")
    assert messages[-1]["moments"] and all(m.frame.path != frame.path for m in messages[-1]["moments"])

    app.chat_input[0].upload("notes.png", b"not an image", "image/png").run()
    assert "notes.png: not a JPEG, PNG or WebP image" in _texts(app)
