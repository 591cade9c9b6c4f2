"""`vidrag search|ask` as a user runs it, against a loopback VLM."""

import json

import pytest

from conftest import COOKING_CUES, cli_runner, make_video, write_srt
from openai_stub import StubVLM, refused_url
from rag.answering.prompt import PixtralCounter

pytestmark = pytest.mark.slow  # each test starts Python processes that load the models


@pytest.fixture(scope="module")
def cli(tmp_path_factory, model_env):
    """One library for the module's tests: they search and ask, and change nothing."""
    return cli_runner(tmp_path_factory.mktemp("cli"), model_env)


@pytest.fixture(scope="module")
def indexed(cli, tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    video = make_video(folder / "cooking.mp4", 45, audio=False, size="320x180", rate=5, gop=25)
    write_srt(folder / "cooking.srt", COOKING_CUES)
    cli("add", str(video), check=True)
    return json.loads(cli("list", "--json", check=True).stdout)[0]


def test_search_json_and_text(cli, indexed):
    result = cli("search", "how long should the dough be kneaded", "--k", "3", "--json", check=True)
    moments = json.loads(result.stdout)
    assert 1 <= len(moments) <= 3
    for m in moments:
        assert {"video_id", "video_name", "start_s", "end_s", "text", "frame_path", "frame_s", "score"} <= m.keys()
    assert any(m["start_s"] == 10.0 and "knead" in m["text"] for m in moments)
    text = cli("search", "sourdough", "--video", indexed["id"], check=True).stdout
    assert text.startswith("1. cooking.mp4 [00:")


def test_ask_json_sends_a_request_pixtral_accepts_within_budget(cli, indexed):
    with StubVLM(reply="Knead it for ten minutes [00:10]. Or was it [09:00]?") as stub:
        result = cli("ask", "How long do I knead?", "--json", env={"VIDRAG_VLM_BASE_URL": stub.base_url})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["answer"] == stub.reply
    assert out["citations"] == [
        {"video_id": indexed["id"], "start_s": 10.0, "supported": True, "label": "[00:10]"},
        {"video_id": None, "start_s": 540.0, "supported": False, "label": "[09:00]"},
    ]
    assert out["moments"] and out["moments"][0]["video_name"] == "cooking.mp4"
    (request,) = stub.requests
    counted = PixtralCounter().count(request["messages"])  # mistral-common accepts the request as sent
    assert counted == out["prompt_tokens"] <= 16384 - 1024  # the default context minus the answer's room


def test_ask_streams_text(cli, indexed):
    with StubVLM() as stub:
        result = cli("ask", "What do we bake?", env={"VIDRAG_VLM_BASE_URL": stub.base_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(stub.reply) and "Sources:" in result.stdout


def test_ask_without_a_vlm_shows_the_moments_and_exits_3(cli, indexed):
    url = refused_url()
    result = cli("ask", "When do I preheat the oven?", env={"VIDRAG_VLM_BASE_URL": url})
    assert result.returncode == 3
    assert "Preheat the oven" in result.stdout
    assert result.stderr.count("\n") == 1 and url in result.stderr and result.stderr.startswith("error: ")


def test_ask_past_the_deadline_keeps_the_text_marks_it_cut_and_exits_3(cli, indexed):
    with StubVLM(interval_s=0.5) as stub:
        env = {"VIDRAG_VLM_BASE_URL": stub.base_url, "VIDRAG_VLM_DEADLINE_S": "3", "VIDRAG_VLM_TIMEOUT_S": "5"}
        text = cli("ask", "What do we bake?", env=env)
        as_json = cli("ask", "What do we bake?", "--json", env=env)
    assert text.returncode == 3 and as_json.returncode == 3
    first_line = text.stdout.splitlines()[0]
    assert first_line.endswith(" [answer cut short]") and stub.reply.startswith(first_line.split(" [answer")[0])
    assert "Moments found:" in text.stdout and "cooking.mp4" in text.stdout
    assert text.stderr.count("\n") == 1 and "VIDRAG_VLM_DEADLINE_S" in text.stderr
    out = json.loads(as_json.stdout)
    assert out["cut"] is True and out["answer"] and out["moments"] and "VIDRAG_VLM_DEADLINE_S" in out["error"]


def test_empty_library_says_so(run_cli):
    result = run_cli("search", "anything")
    assert result.returncode == 0 and "No videos indexed yet" in result.stderr
    asked = run_cli("ask", "anything", "--json")
    assert asked.returncode == 0 and json.loads(asked.stdout)["moments"] == []
