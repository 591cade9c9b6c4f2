"""`vidrag mcp` as MCP clients start it: over stdio, with the SDK's client and with plain
newline-delimited JSON-RPC, against an indexed clip and a loopback VLM."""

import base64
import json
import os
import subprocess
import sys

import anyio
import pytest

from conftest import COOKING_CUES, ROOT, make_video, write_srt
from openai_stub import StubVLM

pytestmark = pytest.mark.slow  # each test starts a server process that loads the models

KNEAD = "how long should the dough be kneaded"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, whisper_checkpoint, clip_dir, minilm_dir):
    """The cooking clip indexed in its own data dir, and the environment a server needs to open it
    with the local test models (never the network). Yields (env, video id, folder). Ingest runs
    in its own process: Milvus Lite stays locked by a process until it exits."""
    folder = tmp_path_factory.mktemp("mcp")
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "VIDRAG_DATA_DIR": str(folder / "data"), "VIDRAG_WHISPER_MODEL": str(whisper_checkpoint),
        "VIDRAG_CLIP_MODEL": f"local-dir:{clip_dir}", "VIDRAG_CLIP_PRETRAINED": "",
        "VIDRAG_TEXT_MODEL": str(minilm_dir), "VIDRAG_DEVICE": "cpu",
        "VIDRAG_DESCRIBE": "off", "VIDRAG_SUMMARIZE": "off",  # no VLM at ingest, whatever listens on its port
    }
    video = make_video(folder / "cooking.mp4", 45, audio=False, size="160x120", rate=5, gop=25)
    write_srt(folder / "cooking.srt", COOKING_CUES)
    subprocess.run([sys.executable, "-m", "vidrag", "add", str(video)], cwd=folder, env=env, check=True,
                   capture_output=True, timeout=600)
    listed = subprocess.run([sys.executable, "-m", "vidrag", "list", "--json"], cwd=folder, env=env, check=True,
                            capture_output=True, text=True, timeout=600)
    return env, json.loads(listed.stdout)[0]["id"], folder


def _server(env: dict, folder):
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=["-m", "vidrag", "mcp"], env=env, cwd=str(folder))


def _run_client(env, folder, session):
    from mcp import Client

    async def main():
        async with Client(_server(env, folder), read_timeout_seconds=300) as client:
            return await session(client)

    return anyio.run(main)


def test_sdk_client_lists_tools_searches_asks_and_gets_clean_errors(indexed):
    """tools/list names the tools; search_moments finds the kneading moment at 10 s with its frame;
    ask returns the stub's answer with citations and moments, the frames sent to the VLM; bad
    input is a one-line tool error and the server goes on answering."""
    env, video_id, folder = indexed

    async def session(client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        found = await client.call_tool("search_moments", {"query": KNEAD, "k": 3, "include_frames": True})
        errors = [
            await client.call_tool("search_moments", {"query": KNEAD, "k": 0}),
            await client.call_tool("search_moments", {"query": "   "}),
            await client.call_tool("search_moments", {"query": KNEAD, "video_ids": ["0000dead0000beef"]}),
            await client.call_tool("get_transcript", {"video_id": video_id, "start_s": 20, "end_s": 5}),
        ]
        videos = await client.call_tool("list_videos", {})
        transcript = await client.call_tool("get_transcript", {"video_id": video_id, "start_s": 9, "end_s": 16})
        asked = await client.call_tool("ask", {"question": "How long do I knead?"})
        summary = await client.call_tool("summarize", {"video_id": video_id})
        return tools, found, errors, videos, transcript, asked, summary

    with StubVLM(reply="Knead it for about ten minutes [00:10].") as stub:
        tools, found, errors, videos, transcript, asked, summary = _run_client(
            {**env, "VIDRAG_VLM_BASE_URL": stub.base_url}, folder, session)
    assert {"search_moments", "ask", "list_videos", "get_transcript", "summarize"} <= tools.keys()
    assert tools["search_moments"].input_schema["required"] == ["query"]

    assert not found.is_error
    moments = found.structured_content["moments"]
    assert json.loads(found.content[0].text) == found.structured_content
    knead = [m for m in moments if m["start_s"] == 10.0]
    assert knead and knead[0]["end_s"] == pytest.approx(14.8) and "knead" in knead[0]["text"], moments
    assert knead[0]["video_id"] == video_id and knead[0]["url"].endswith("#t=10,14.8")
    images = [c for c in found.content if c.type == "image"]
    assert len(images) == sum(1 for m in moments if m["frame_path"]) > 0
    assert all(i.mime_type == "image/jpeg" and base64.b64decode(i.data)[:2] == b"\xff\xd8" for i in images)

    messages = [e.content[0].text for e in errors]
    assert all(e.is_error for e in errors) and all("\n" not in m for m in messages), messages
    assert "k" in messages[0] and "greater than or equal to 1" in messages[0]
    assert "query is empty" in messages[1]
    assert "no video with id '0000dead0000beef'" in messages[2]
    assert "end_s (5) is before start_s (20)" in messages[3]

    (video,) = videos.structured_content["videos"]
    assert video["id"] == video_id and video["name"] == "cooking.mp4"
    assert video["duration_s"] == pytest.approx(45, abs=1)
    texts = [s["text"] for s in transcript.structured_content["segments"]]
    assert texts == [text for start, end, text in COOKING_CUES if end >= 9 and start <= 16]
    assert transcript.structured_content["seen"] == []  # not described

    assert not summary.is_error, summary.content
    assert summary.structured_content["video_id"] == video_id and summary.structured_content["summary"]
    assert summary.structured_content["chapters"] and len(stub.requests) == 2  # ask's, then the summary's

    assert not asked.is_error, asked.content
    data = asked.structured_content
    assert data["answer"] == stub.reply and data["prompt_tokens"] > 0
    assert data["citations"] == [{"video_id": video_id, "start_s": 10.0, "supported": True, "label": "[00:10]"}]
    assert any(m["start_s"] == 10.0 for m in data["moments"])
    assert any(part["type"] == "image_url" for part in stub.requests[0]["messages"][-1]["content"])


def test_database_held_by_another_process_is_a_clear_tool_error(indexed):
    """Milvus Lite is one process at a time: while another process holds it, a call says so in
    one line, and once that process has gone the same server answers."""
    env, _, folder = indexed
    hold = "import sys; from rag.store import Store; from rag.settings import load_settings; " \
           "Store(load_settings()); print('holding', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold], cwd=folder, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline().strip() == "holding"

        async def session(client):
            held = await client.call_tool("list_videos", {})
            holder.stdin.close()  # the holder exits, and the lock goes with it
            holder.wait(timeout=60)
            return held, await client.call_tool("list_videos", {})

        held, freed = _run_client(env, folder, session)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert held.is_error and "is in use by another process" in held.content[0].text
    assert "\n" not in held.content[0].text
    assert not freed.is_error and len(freed.structured_content["videos"]) == 1


def test_plain_json_rpc_client_over_stdio(indexed):
    """No SDK: newline-delimited JSON-RPC over the pipes does initialize, tools/list and a search."""
    env, video_id, folder = indexed
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "search_moments", "arguments": {"query": KNEAD, "k": 2}}},
    ]
    process = subprocess.Popen([sys.executable, "-m", "vidrag", "mcp"], cwd=folder, env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        replies = {}
        for request in requests:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            if "id" in request:
                line = process.stdout.readline()
                assert line, process.stderr.read()
                reply = json.loads(line)
                replies[reply["id"]] = reply
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert replies[1]["result"]["serverInfo"]["name"] == "vidrag"
    assert "search_moments" in [t["name"] for t in replies[2]["result"]["tools"]]
    result = replies[3]["result"]
    assert result.get("isError") is not True
    moments = result["structuredContent"]["moments"]
    assert moments[0]["video_id"] == video_id and any(m["start_s"] == 10.0 for m in moments)


def test_vlm_down_and_unknown_tool_in_process(indexed, tmp_path):
    """With the VLM unreachable, ask is a tool error whose first line names the endpoint, with the
    moments after it; an unknown tool is a tool error too. (A copy of the library, opened in this
    process through the SDK's in-process client, so the other tests' servers can still open theirs.)"""
    import shutil

    from mcp import Client

    from openai_stub import refused_url
    from rag.settings import Settings
    from vidrag.mcp_server import build_server

    env, video_id, _ = indexed
    shutil.copytree(env["VIDRAG_DATA_DIR"], tmp_path / "data")
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "data", whisper_model=env["VIDRAG_WHISPER_MODEL"],
        clip_model=env["VIDRAG_CLIP_MODEL"], clip_pretrained="", text_model=env["VIDRAG_TEXT_MODEL"], device="cpu",
        vlm_base_url=refused_url(), vlm_timeout_s=2,
    )

    async def main():
        async with Client(build_server(settings)) as client:
            asked = await client.call_tool("ask", {"question": "How long do I knead?", "include_frames": True})
            unknown = await client.call_tool("summarise_everything", {})
            return asked, unknown

    asked, unknown = anyio.run(main)
    assert asked.is_error
    first = asked.content[0].text
    assert first.startswith("cannot reach the VLM at http://127.0.0.1:") and "\n" not in first
    moments = asked.structured_content["moments"]
    assert asked.structured_content["error"] in first and any(m["video_id"] == video_id for m in moments)
    assert any(c.type == "image" for c in asked.content)
    assert unknown.is_error and "summarise_everything" in unknown.content[0].text


def test_streamable_http_on_localhost(indexed):
    """--http serves the same tools on 127.0.0.1, for clients that connect to a URL."""
    import socket
    import time

    from mcp import Client

    env, video_id, folder = indexed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "vidrag", "mcp", "--http", "--port", str(port)], cwd=folder,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    async def main():
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            return [t.name for t in (await client.list_tools()).tools], await client.call_tool("list_videos", {})

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                names, videos = anyio.run(main)
                break
            except Exception:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the HTTP server did not answer within 120 s"
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "search_moments" in names and [v["id"] for v in videos.structured_content["videos"]] == [video_id]


def test_http_port_in_use_is_one_line(indexed):
    """A port another program holds: one line naming it, exit 1, no claim to be serving."""
    import socket

    env, _, folder = indexed
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "vidrag", "mcp", "--http", "--port", str(port)], cwd=folder,
                                env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"error: cannot listen on 127.0.0.1:{port} (")
    assert len(result.stderr.strip().splitlines()) == 1 and "MCP server on" not in result.stderr
