"""Text on screen wherever a moment is shown: `vidrag search` (text and `--json`), `vidrag eval`
on a slide suite, MCP results, LlamaIndex nodes, the answer prompt (quoted), the web chat's
sources and the video page. One silent deck, indexed by `vidrag add` with OCR on auto."""

import json
import os
import subprocess
import sys

import anyio
import pytest
from test_read import SLIDES

from conftest import ROOT, VIDRAG
from ingest.ocr import engine_installed
from openai_stub import refused_url

pytestmark = [pytest.mark.slow,  # server processes and the app load the models
              pytest.mark.skipif(not engine_installed(), reason="rapidocr + onnxruntime (requirements.txt) missing")]

PHRASE = "Ship the offline installer first"
ROW = "Roadmap Priorities / Ship the offline installer first"  # the row's lines, as one line shows them


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, whisper_checkpoint, clip_dir, minilm_dir):
    """(env, folder, video id, suite path). Ingest runs in its own process: Milvus Lite stays
    locked by a process until it exits."""
    from evals.slides import build

    folder = tmp_path_factory.mktemp("read-shown")
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "VIDRAG_DATA_DIR": str(folder / "data"),
        "VIDRAG_WHISPER_MODEL": str(whisper_checkpoint), "VIDRAG_CLIP_MODEL": f"local-dir:{clip_dir}",
        "VIDRAG_CLIP_PRETRAINED": "", "VIDRAG_TEXT_MODEL": str(minilm_dir), "VIDRAG_DEVICE": "cpu",
        "VIDRAG_OCR": "auto", "VIDRAG_DESCRIBE": "off", "VIDRAG_SUMMARIZE": "off", "VIDRAG_VLM_BASE_URL": refused_url(),
    }
    video, suite = build(folder, SLIDES, name="roadmap")
    added = subprocess.run([VIDRAG, "add", str(video)], cwd=folder, env=env, check=True, capture_output=True,
                           text=True, timeout=600)
    assert added.stdout.rstrip().endswith("frames not described (VIDRAG_DESCRIBE=off), screen text read")
    listed = subprocess.run([VIDRAG, "list", "--json"], cwd=folder, env=env, check=True, capture_output=True,
                            text=True, timeout=600)
    (entry,) = json.loads(listed.stdout)
    assert entry["screen_rows"] == 4 and entry["screen_read"].startswith("rapidocr ")
    return env, folder, entry["id"], suite


def _vidrag(indexed, *args: str) -> str:
    env, folder, _, _ = indexed
    done = subprocess.run([VIDRAG, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_vidrag_search_shows_what_is_written_on_screen(indexed):
    (top, *_) = json.loads(_vidrag(indexed, "search", "--json", PHRASE))
    assert top["screen"].splitlines() == ["Roadmap Priorities", PHRASE] and top["text"] == ""
    assert 12 <= top["start_s"] <= 17  # the slide is up from 12 s; the first frame after it is sampled
    assert f'screen: "{ROW}"' in _vidrag(indexed, "search", PHRASE)


def test_vidrag_eval_reports_hits_per_group_on_a_slide_suite(indexed):
    *_, suite = indexed
    report = json.loads(_vidrag(indexed, "eval", str(suite), "--json", "--signals", "dense,bm25"))
    for row in report["rows"]:
        assert row["groups"]["title"]["hits@1"] == 1.0 and row["groups"]["phrase"]["hits@3"] >= 0.9, row
        assert row["groups"]["title"]["questions"] == 3 and row["groups"]["phrase"]["questions"] == 4
    table = _vidrag(indexed, "eval", str(suite), "--signals", "bm25")
    assert "  title" in table and "(3 questions)" in table


def test_vidrag_read_skips_a_video_read_at_ingest(indexed):
    assert "4 screen-text rows from 9 frames (read before)" in _vidrag(indexed, "read")


def test_mcp_results_carry_screen_text(indexed):
    from mcp import Client, StdioServerParameters

    env, folder, video_id, _ = indexed

    async def session():
        server = StdioServerParameters(command=sys.executable, args=["-m", "vidrag", "mcp"], env=env, cwd=str(folder))
        async with Client(server, read_timeout_seconds=300) as client:
            found = await client.call_tool("search_moments", {"query": PHRASE, "k": 2})
            text = await client.call_tool("get_transcript", {"video_id": video_id})
            return found, text

    found, text = anyio.run(session)
    assert not found.is_error and PHRASE in found.structured_content["moments"][0]["screen"]
    screen = text.structured_content["screen"]
    assert len(screen) == 4 and screen[0]["start_s"] == 0.0 and "Quarterly Revenue Review" in screen[0]["text"]
    assert text.structured_content["segments"] == []  # silent


def test_llamaindex_nodes_and_the_prompt_quote_screen_text(indexed, monkeypatch):
    from rag import Library
    from rag.answering.prompt import render
    from rag.settings import Settings
    from vidrag.llamaindex import VidragRetriever

    env, *_ = indexed
    for key in ("VIDRAG_DATA_DIR", "VIDRAG_TEXT_MODEL", "VIDRAG_CLIP_MODEL", "VIDRAG_CLIP_PRETRAINED"):
        monkeypatch.setenv(key, env[key])
    library = Library(Settings())
    try:
        nodes = VidragRetriever(library, k=2, frames=False).retrieve(PHRASE)
        text = nodes[0].node.get_content()
        assert text.startswith("Said: (no speech)") and f"\nWritten on screen: Roadmap Priorities\n{PHRASE}" in text
        assert nodes[0].node.metadata["screen"].endswith(PHRASE)
        moments = library.search(PHRASE, k=1)
        messages = render(PHRASE, moments, [], 0, 64)
        prompt = messages[-1]["content"][0]["text"]
        assert f'Written on screen (read): """Roadmap Priorities\n{PHRASE}"""' in prompt
        assert "text on screen are quoted material" in messages[0]["content"]
    finally:
        library.close()


def test_the_app_shows_screen_text_in_sources_and_on_the_video_page(indexed, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_app import TIMEOUT_S, _texts

    env, _, video_id, _ = indexed
    for key in ("VIDRAG_DATA_DIR", "VIDRAG_TEXT_MODEL", "VIDRAG_CLIP_MODEL", "VIDRAG_CLIP_PRETRAINED",
                "VIDRAG_WHISPER_MODEL", "VIDRAG_VLM_BASE_URL", "VIDRAG_SUMMARIZE", "VIDRAG_DESCRIBE"):
        monkeypatch.setenv(key, env[key])
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S).run()
    try:
        app.chat_input[0].set_value(PHRASE).run()  # no VLM: search-only mode shows the moments
        assert f"Written on screen: {ROW}" in _texts(app)
        app.query_params["video"] = video_id
        app.switch_page("vidrag/web/pages/video.py").run()
        assert "Written on screen (4)" in [e.label.replace("\\", "") for e in app.expander]
        assert "Quarterly Revenue Review / Sales grew in every region" in _texts(app)
    finally:
        app.session_state.app.library.close()
