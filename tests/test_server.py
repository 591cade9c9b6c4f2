"""`vidrag serve` as one process that owns the library: the real server on 127.0.0.1, reached by
the installed `vidrag` command, by HTTP and by an MCP client."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import anyio
import httpx
import pytest

from conftest import VIDRAG, cli_runner, make_video, write_srt

pytestmark = pytest.mark.slow

FRANK_CUES = [
    (2.0, 8.0, "The sun rises slowly over a quiet green forest."),
    (14.0, 20.0, "Frank the flying squirrel watches from the tree."),
    (21.0, 27.0, "A huge rabbit crawls out of his burrow in the hill."),
]
TOKEN = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    """`vidrag serve` in a subprocess, against the library in `folder`/data."""

    def __init__(self, folder: Path, model_env: dict, env: dict | None = None):
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **model_env, "VIDRAG_DATA_DIR": str(folder / "data"), "VIDRAG_DESCRIBE": "off",
                    "VIDRAG_SUMMARIZE": "off", "VIDRAG_VLM_BASE_URL": "http://127.0.0.1:9/v1", **(env or {})}
        self.env.pop("PYTHONPATH", None)
        self.process = None

    def start(self) -> RunningServer:
        self.process = subprocess.Popen([VIDRAG, "serve", "--port", str(self.port)], cwd=self.folder, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        headers = {"Authorization": f"Bearer {self.env['VIDRAG_API_TOKEN']}"} if "VIDRAG_API_TOKEN" in self.env else {}
        deadline = time.monotonic() + 120
        while True:
            assert self.process.poll() is None, self.process.stderr.read()
            try:
                if httpx.get(f"{self.url}/api/v1/health", headers=headers, timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not answer within 120 s"
            time.sleep(0.3)

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=60, **kwargs)

    def wait_jobs(self, token: str | None = None, timeout_s: float = 300) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while True:
            jobs = self.api("GET", "/jobs", token).json()["jobs"]
            if not any(j["state"] in ("queued", "running") for j in jobs):
                return jobs
            assert time.monotonic() < deadline, jobs
            time.sleep(0.5)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory, model_env, shared_media_dir):
    """A server holding an empty library, and the Bunny clip with subtitles naming Frank."""
    folder = tmp_path_factory.mktemp("served")
    clip = folder / "bunny.webm"
    clip.symlink_to(shared_media_dir / "big_buck_bunny_0_30.webm")
    write_srt(folder / "bunny.srt", FRANK_CUES)
    server = RunningServer(folder, model_env).start()
    yield server, clip, cli_runner(folder, {**model_env, "VIDRAG_DESCRIBE": "off", "VIDRAG_SUMMARIZE": "off"})
    server.stop()


@pytest.fixture(scope="module")
def shared_media_dir() -> Path:
    from conftest import SHARED_MEDIA

    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real test clips not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


@pytest.fixture(scope="module")
def added(served):
    server, clip, run = served
    result = run("add", str(clip), check=True)
    return server, run, result


def test_cli_add_goes_through_the_server(added):
    server, run, result = added
    # The server holds Milvus Lite: an add that opened it would have been told the database is in use.
    assert "bunny.webm: added" in result.stdout and "transcript: sidecar:bunny.srt" in result.stdout
    video_id = result.stdout.split()[0]
    listed = server.api("GET", "/videos").json()["videos"]
    assert [v["id"] for v in listed] == [video_id] and listed[0]["name"] == "bunny.webm"
    assert video_id in run("list", check=True).stdout
    jobs = server.api("GET", "/jobs").json()["jobs"]
    assert [(j["kind"], j["state"], j["video_id"]) for j in jobs] == [("path", "done", video_id)]
    again = run("add", str(server.folder / "bunny.webm"), check=True)
    assert "already indexed, nothing changed" in again.stdout


def test_search_finds_frank_at_14_to_20_s(added):
    server, run, _ = added
    moments = server.api("GET", "/search", params={"q": "Frank", "k": 3}).json()["moments"]
    assert moments and "Frank" in moments[0]["text"]
    assert (moments[0]["start_s"], moments[0]["end_s"]) == (14.0, 20.0)
    printed = run("search", "Frank", "--k", "1", check=True).stdout
    assert "[00:14-00:20]" in printed and "Frank the flying squirrel" in printed


def test_transcript_and_one_video_through_the_api(added):
    server, run, _ = added
    video_id = server.api("GET", "/videos").json()["videos"][0]["id"]
    assert server.api("GET", f"/videos/{video_id}").json()["duration_s"] == pytest.approx(30, abs=0.5)
    segments = server.api("GET", f"/videos/{video_id}/transcript", params={"format": "json"}).json()
    assert [s["text"] for s in segments][1] == FRANK_CUES[1][2]
    assert "00:00:14,000 --> 00:00:20,000" in run("transcript", video_id, "--format", "srt", check=True).stdout
    missing = server.api("GET", "/videos/ffffffffffffffff")
    assert missing.status_code == 404 and missing.json() == {"error": "no video with id ffffffffffffffff"}


def test_whole_video_commands_and_eval_go_through_the_server(added, tmp_path):
    """videos, similar, summarize and eval: through the API, since the server holds Milvus Lite."""
    import json

    server, run, _ = added
    video_id = server.api("GET", "/videos").json()["videos"][0]["id"]
    ranked = json.loads(run("videos", "Frank the flying squirrel", "--json", check=True).stdout)
    assert [r["video_id"] for r in ranked] == [video_id] and ranked[0]["moment"]["start_s"] == 14.0
    assert server.api("GET", "/search/videos", params={"q": "Frank"}).json()["videos"][0]["video_id"] == video_id
    assert run("similar", video_id, check=True).stdout == "No other videos to compare with.\n"
    outside = run("similar", video_id, "--at", "99")
    assert outside.returncode == 1 and outside.stderr.strip() == "error: --at 99 is outside bunny.webm (0 to 30 s)"
    refused = run("summarize", video_id)  # the VLM endpoint answers nothing: 502 from the server
    assert refused.returncode == 3 and refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1
    suite = tmp_path / "frank.jsonl"
    suite.write_text(json.dumps({"question": "Who is Frank?", "video": "bunny.webm", "start_s": 14, "end_s": 20}))
    scored = json.loads(run("eval", str(suite), "--signals", "all,bm25", "--json", check=True).stdout)
    rows = {row["signals"]: row for row in scored["rows"]}
    assert rows["bm25"]["hits@1"] == 1.0 and rows["fusion"]["hits@1"] == 1.0
    described = run("describe", video_id)  # a job on the server; its VLM answers nothing
    assert re.fullmatch(rf"{video_id}  bunny.webm: 0 of \d+ frames described \(0 now\), tags.*\n", described.stdout)
    assert described.returncode == 1 and described.stderr.startswith("warning: bunny.webm: ")
    mcp = run("mcp")
    assert mcp.returncode == 1 and mcp.stderr == (f"error: the vidrag server at {server.url} holds this library; "
                                                  f"point the MCP client at {server.url}/mcp\n")
    job = server.api("GET", "/jobs").json()["jobs"][-1]
    assert (job["kind"], job["state"], job["video_id"], job["result"]["described"]) == ("describe", "done", video_id, 0)
    read = run("read", video_id, check=True)  # a job on the server too (its VIDRAG_OCR=off is for ingest)
    assert re.fullmatch(rf"{video_id}  bunny.webm: \d+ screen-text rows from \d+ frames \(read now\)\n", read.stdout)
    job = server.api("GET", "/jobs").json()["jobs"][-1]
    assert (job["kind"], job["state"], job["result"]["newly_read"]) == ("read", "done", True)
    assert server.api("GET", f"/videos/{video_id}").json()["screen_read"].startswith("rapidocr ")
    unknown = server.api("GET", "/search", params={"q": "Frank", "signal": "smell"})
    assert unknown.status_code == 422 and unknown.json() == {"error": "unknown signal 'smell'; one of "
                                                             "dense, bm25, clip, image"}


def test_a_text_file_uploaded_as_mp4_is_refused_in_one_line(served, tmp_path):
    server, _, _ = served
    reply = server.api("POST", "/videos", files={"file": ("notes.mp4", b"just some text\n" * 100)})
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert "notes.mp4" in error and "\n" not in error
    assert not list((server.folder / "data" / "uploads").iterdir())  # nothing kept
    assert server.api("POST", "/videos", json={"path": "relative.mp4"}).status_code == 422
    assert server.api("POST", "/videos", json={}).json() == {"error": "give exactly one of path or url"}


def test_mcp_over_http_lists_the_video(added):
    from mcp import Client

    server, _, _ = added

    async def main():
        async with Client(f"{server.url}/mcp") as client:
            return await client.call_tool("list_videos", {})

    videos = anyio.run(main).structured_content["videos"]
    assert [v["name"] for v in videos] == ["bunny.webm"]


def test_openapi_schema_is_served(served):
    schema = served[0].api("GET", "/openapi.json").json()
    assert {"/videos", "/videos/{video_id}", "/search", "/ask", "/jobs", "/jobs/{job_id}",
            "/videos/{video_id}/transcript"} <= set(schema["paths"])


def test_video_route_cannot_be_walked_out_of_the_library(added):
    server, _, _ = added
    for path in ["/app/static/vidrag/videos/..%2F..%2Fjobs.db", "/app/static/vidrag/videos/../jobs.db",
                 "/app/static/vidrag/videos/%2Fetc%2Fpasswd", "/app/static/vidrag/videos//etc/passwd"]:
        reply = httpx.get(server.url + path, timeout=10)
        assert reply.status_code in (400, 404) or b"SQLite" not in reply.content, path
        assert b"root:" not in reply.content and b"SQLite format" not in reply.content


def test_three_uploads_survive_kill_9_and_are_indexed_once(tmp_path, model_env):
    clips = [make_video(tmp_path / f"clip{i}.mp4", 3 + i, audio=False, size="160x120", rate=5, gop=5,
                        extra=("-vf", f"hue=h={60 * i}")) for i in range(3)]
    server = RunningServer(tmp_path, model_env).start()
    try:
        for clip in clips:
            reply = server.api("POST", "/videos", files={"file": (clip.name, clip.read_bytes())})
            assert reply.status_code == 202 and reply.json()["job_id"]
        server.kill()  # right after: nothing has had time to finish
    finally:
        server.stop()
    restarted = RunningServer(tmp_path, model_env).start()
    try:
        jobs = restarted.wait_jobs()
        videos = restarted.api("GET", "/videos").json()["videos"]
    finally:
        restarted.stop()
    assert sorted(v["name"] for v in videos) == ["clip0.mp4", "clip1.mp4", "clip2.mp4"]
    assert sorted(j["state"] for j in jobs) == ["done"] * 3
    data = tmp_path / "data"
    assert sorted(p.name for p in (data / "videos").iterdir()) == sorted(f"{v['id']}.mp4" for v in videos)
    assert not list((data / "uploads").iterdir())
    assert sorted(p.name for p in (data / "frames").iterdir()) == sorted(v["id"] for v in videos)


def test_beyond_loopback_without_a_token_does_not_start(run_cli):
    for args, env in [(("serve", "--host", "0.0.0.0"), {}), (("serve",), {"VIDRAG_BIND": "0.0.0.0"})]:
        result = run_cli(*args, "--port", str(free_port()), env=env)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            "error: refusing to listen on 0.0.0.0 without VIDRAG_API_TOKEN: set a token, or bind 127.0.0.1"]


def test_a_token_guards_the_api_mcp_and_the_web_ui(tmp_path, model_env):
    server = RunningServer(tmp_path, model_env, {"VIDRAG_API_TOKEN": TOKEN, "VIDRAG_MAX_UPLOAD_MB": "1"}).start()
    try:
        assert server.api("GET", "/videos").status_code == 401
        wrong = server.api("GET", "/videos", token="wrong")
        assert wrong.status_code == 401 and wrong.json() == {"error": "unauthorized"}
        assert server.api("GET", "/videos", token=TOKEN).json() == {"videos": []}
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}
        mcp_headers = {"Accept": "application/json, text/event-stream"}
        assert httpx.post(f"{server.url}/mcp", json=initialize, headers=mcp_headers).status_code == 401
        authorized = httpx.post(f"{server.url}/mcp", json=initialize,
                                headers={**mcp_headers, "Authorization": f"Bearer {TOKEN}"})
        assert authorized.status_code == 200 and "vidrag" in authorized.text
        # The web UI: a login page, then an HttpOnly cookie that opens it.
        page = httpx.get(server.url + "/")
        assert page.status_code == 401 and "token" in page.text.lower()
        refused = httpx.post(f"{server.url}/vidrag-login", data={"token": "wrong"})
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        login = httpx.post(f"{server.url}/vidrag-login", data={"token": TOKEN})
        assert login.status_code == 303 and "HttpOnly" in login.headers["set-cookie"]
        assert TOKEN not in login.headers["set-cookie"]
        assert httpx.get(server.url + "/", cookies=login.cookies).status_code == 200
        # The upload limit holds before anything is stored.
        big = server.api("POST", "/videos", token=TOKEN, files={"file": ("big.mp4", b"\0" * (2 << 20))})
        assert big.status_code == 413 and "VIDRAG_MAX_UPLOAD_MB" in big.json()["error"]
        # The CLI with the token goes through; without it, one line.
        run = cli_runner(tmp_path, model_env)
        assert "No videos yet" in run("list", env={"VIDRAG_API_TOKEN": TOKEN}, check=True).stdout
        without = run("list", env={"VIDRAG_API_TOKEN": ""})
        assert without.returncode == 1 and "wants a token" in without.stderr
    finally:
        server.stop()


def test_a_stale_server_record_is_ignored(run_cli, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "server.json").write_text(f'{{"url": "http://127.0.0.1:9", "pid": {dead.pid}}}')
    result = run_cli("list", check=True)
    assert "No videos yet" in result.stdout


@pytest.fixture
def web_folder(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/web."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path / "web"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_add_by_url_through_the_api_and_the_cli(added, web_folder):
    server, run, _ = added
    folder, base = web_folder
    make_video(folder / "walk.mp4", 3, audio=False, size="160x120", rate=5, gop=5, extra=("-vf", "hue=h=200"))
    reply = server.api("POST", "/videos", json={"url": f"{base}/walk.mp4"})
    assert reply.status_code == 202
    job = server.wait_jobs()[-1]
    assert job["state"] == "done" and job["kind"] == "url", job
    video = server.api("GET", f"/videos/{job['video_id']}").json()
    assert video["source_url"] == f"{base}/walk.mp4" and video["title"] == "walk" and video["name"] == "walk"
    # A bad or unreachable URL: one line, nothing stored.
    before = server.api("GET", "/videos").json()["videos"]
    missing = run("add", f"{base}/nothing-here.mp4")
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "404" in missing.stderr
    assert run("add", "https://").returncode == 1
    assert server.api("GET", "/videos").json()["videos"] == before
    assert server.api("POST", "/videos", json={"url": "ftp://example.com/x.mp4"}).status_code == 422
    server.api("DELETE", f"/videos/{video['id']}")  # the module's other tests see only the Bunny clip
