"""A loopback HTTP server that speaks the OpenAI chat-completions protocol (SSE streaming), in
place of vLLM. It records every request, and can fail the ways a real server does."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_REPLY = "The bird wakes up and stretches its wings [00:05]. Then the rabbit appears [00:20]."
# Words no transcript holds: the description of the frame at 5*i seconds shows FRAME_WORDS[i].
FRAME_WORDS = ("aardwolf", "bilby", "capybara", "dugong", "echidna", "fossa", "gharial", "hoatzin", "ibex",
               "jerboa", "kinkajou", "loris", "margay", "numbat", "okapi", "pangolin", "quokka", "radiata")
_FRAME_AT = re.compile(r"Frame (\d+) at \[(?:(\d+):)?(\d+):(\d+)\]")


def frame_word(seconds: float) -> str:
    return FRAME_WORDS[int(round(seconds / 5.0)) % len(FRAME_WORDS)]


def describe_reply(body: dict) -> str:
    """What a VLM asked to describe frames answers: one "Frame N:" paragraph per frame, naming
    the frame's word (see FRAME_WORDS) as on-screen text."""
    text = " ".join(part["text"] for m in body["messages"] if isinstance(m["content"], list)
                    for part in m["content"] if part["type"] == "text")
    paragraphs = []
    for number, hours, minutes, secs in _FRAME_AT.findall(text):
        seconds = int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)
        word = frame_word(seconds)
        paragraphs.append(f'Frame {number}: A colourful test card with moving shapes. On screen: "{word}".')
    return "\n\n".join(paragraphs)


def is_describe_request(body: dict) -> bool:
    system = body["messages"][0]
    return system["role"] == "system" and str(system["content"]).startswith("You describe frames")


class StubVLM:
    """mode: "ok" streams `reply` (or, to a request to describe frames, describe_reply's);
    "error" answers HTTP 500; "hang" never answers; "cut" sends half the stream (or body) and
    drops the connection; "garbage" streams text with no frame descriptions in it. `interval_s`
    waits that long before each piece (a slow server: every wait is short, the whole answer
    long). A request with a `response_format` (and no stream) gets one completion:
    `structured(body)`, or the next of a list of replies (the last one repeats), or by default
    valid summary JSON made from the request's own [mm:ss] times."""

    def __init__(self, mode: str = "ok", reply: str = DEFAULT_REPLY, model: str = "mistralai/Pixtral-12B-2409",
                 interval_s: float = 0.0, structured=None):
        self.mode = mode
        self.reply = reply
        self.interval_s = interval_s
        self.model = model
        self.structured = structured or summary_json
        self.requests: list[dict] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubVLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def pieces(self, body: dict | None = None) -> list[str]:
        reply = self.reply
        if body is not None and is_describe_request(body):
            reply = "<|im_end|> ??? 0x0" if self.mode == "garbage" else describe_reply(body)
        words = reply.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                if stub.mode == "error":
                    self._json(500, {"error": {"message": "CUDA out of memory", "type": "InternalServerError"}})
                elif stub.mode == "hang":
                    stub._stopping.wait(60)
                elif body.get("response_format") and not body.get("stream"):
                    self._completion(body)
                else:
                    self._stream(body)

            def _completion(self, body):
                structured = stub.structured
                if isinstance(structured, list):
                    content = structured.pop(0) if len(structured) > 1 else structured[0]
                else:
                    content = structured(body)
                data = json.dumps({
                    "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
                                                         "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if stub.mode == "cut":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, payload):
                data = f"data: {payload}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, body):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                pieces = stub.pieces(body)
                cut_at = len(pieces) // 2 if stub.mode == "cut" else None
                for i, piece in enumerate(pieces):
                    if stub.interval_s and stub._stopping.wait(stub.interval_s):
                        return
                    if i == cut_at:
                        time.sleep(0.05)
                        self.connection.shutdown(socket.SHUT_RDWR)  # mid-stream, no final chunk
                        return
                    self._chunk(json.dumps(_delta(body["model"], piece, None)))
                self._chunk(json.dumps(_delta(body["model"], "", "stop")))
                self._chunk("[DONE]")
                self.wfile.write(b"0\r\n\r\n")

        return Handler


def _delta(model: str, content: str, finish: str | None) -> dict:
    return {
        "id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": finish}],
    }


def request_text(body: dict) -> str:
    """The text of a request's last user message."""
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else "\n".join(p["text"] for p in content if p["type"] == "text")


def summary_json(body: dict) -> str:
    """A schema-valid summary: chapters at (up to three of) the times the request mentions, titled
    by their order; the summary counts the request's lines, so each request's answer differs."""
    times = []
    for match in re.finditer(r"\[(\d+(?::\d{2}){1,2})\]", request_text(body)):
        seconds = 0
        for part in match.group(1).split(":"):
            seconds = seconds * 60 + int(part)
        if seconds not in times:
            times.append(seconds)
    picked = [times[i * len(times) // 3] for i in range(min(3, len(times)))] if times else [0]
    lines = request_text(body).count("\n") + 1
    return json.dumps({"summary": f"A video, summarized from {lines} lines.",
                       "chapters": [{"start_s": t, "title": f"Part {i}"} for i, t in enumerate(sorted(picked), 1)]})


def refused_url() -> str:
    """An address where nothing listens: a port taken and released again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
