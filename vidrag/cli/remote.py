"""The CLI through a running server: when VIDRAG_SERVER_URL is set, or a live server records
itself in the data folder, commands use its API instead of opening Milvus Lite (which one
process holds at a time). Output and exit codes stay those of the in-process commands."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlparse

from rag.errors import VidragError
from rag.settings import Settings

TIMEOUT_S = 60.0
POLL_S = 0.5


class ServerRefused(VidragError):
    """The server's one-line error, with its HTTP status (502: the VLM failed)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def server_for(settings: Settings) -> Server | None:
    from vidrag.server.record import recorded_url

    url = settings.server_url or recorded_url(settings.data_dir)
    return Server(url, settings.api_token) if url else None


class Server:
    def __init__(self, url: str, token: str = ""):
        import httpx

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=TIMEOUT_S)

    @property
    def shares_disk(self) -> bool:
        """On this machine: a path is enough, no upload needed."""
        from vidrag.server.auth import is_loopback

        return is_loopback(urlparse(self.url).hostname or "")

    def call(self, method: str, path: str, **kwargs):
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise VidragError(f"the vidrag server at {self.url} does not answer ({type(e).__name__}); "
                              "is it running? (VIDRAG_SERVER_URL)") from e
        if response.status_code == 401:
            raise VidragError(f"the vidrag server at {self.url} wants a token: set VIDRAG_API_TOKEN")
        if response.status_code >= 400:
            try:
                message = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {response.status_code}"
            raise ServerRefused(message, response.status_code)
        return response

    def get(self, path: str, **params):
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def add(self, path: Path) -> dict:
        """Queue one file: its path when the server shares this disk, else the file itself."""
        if self.shares_disk:
            # abspath, not resolve: a link keeps its own name and finds the subtitles beside it.
            reply = self.call("POST", "/videos", json={"path": os.path.abspath(path), "name": path.name})
        else:
            with open(path, "rb") as data:
                reply = self.call("POST", "/videos", files={"file": (path.name, data)},
                                  timeout=None)
        return reply.json()

    def wait(self, job_id: str, progress=None) -> dict:
        """The job, once it ended; `progress(stage, done, total)` as it goes."""
        while True:
            job = self.get(f"/jobs/{job_id}")
            if progress and job.get("stage"):
                progress(job["stage"], job["progress"].get(job["stage"], 0.0), 1.0)
            if job["state"] not in ("queued", "running"):
                return job
            time.sleep(POLL_S)

    def ask_events(self, question: str, video_ids: list[str] | None):
        """(event, data) pairs of the answer's server-sent events."""
        import httpx

        try:
            with self._http.stream("POST", "/ask", json={"question": question, "video_ids": video_ids},
                                   timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise VidragError(response.json().get("error", f"HTTP {response.status_code}"))
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        yield event, json.loads(line[6:])
        except httpx.HTTPError as e:
            raise VidragError(f"the vidrag server at {self.url} stopped answering ({type(e).__name__})") from e


def video_from_json(data: dict):
    from dataclasses import fields

    from rag.types import Video

    names = {f.name for f in fields(Video)}
    return Video(**{k: v for k, v in data.items() if k in names})


def moment_from_json(data: dict):
    from rag.types import Frame, Moment

    frame = Frame(data["frame_s"], data["frame_path"]) if data.get("frame_path") else None
    return Moment(
        video_id=data["video_id"], video_name=data["video_name"], start_s=data["start_s"], end_s=data["end_s"],
        text=data.get("text", ""), frame=frame,
        score=data.get("score", 0.0), signals=tuple(data.get("signals", ())), seen=data.get("seen", ""),
        screen=data.get("screen", ""), speakers=tuple(data.get("speakers", ())),
    )


class RemoteLibrary:
    """What `vidrag eval` uses of a Library, through a server: its videos (`store.list_videos`),
    its search (`searcher.search`, one request per question) and its answers (`answer`, /ask)."""

    def __init__(self, server: Server):
        self.server = server
        self.store = self.searcher = self  # one object plays the three parts eval calls on

    def list_videos(self) -> list:
        return [video_from_json(v) for v in self.server.get("/videos")["videos"]]

    def search(self, question: str, k: int | None = None, signals=None, speaker: str | None = None) -> list:
        found = self.server.get("/search", q=question, k=k, signal=list(signals) if signals else None,
                                speaker=speaker)
        return [moment_from_json(m) for m in found["moments"]]

    def video_text(self, video_id: str):
        """What the video says, as the server's JSON transcript gives it (speakers by name)."""
        from rag.store.store import VideoText
        from rag.types import Segment

        rows = self.server.call("GET", f"/videos/{video_id}/transcript", params={"format": "json"}).json()
        return VideoText([Segment(r["start_s"], r["end_s"], r["text"], r.get("speaker", "")) for r in rows], [], [])

    def answer(self, question: str) -> RemoteAnswer:
        return RemoteAnswer(self.server, question)

    def close(self) -> None:
        pass


class RemoteAnswer:
    """An answer streamed from /ask, shaped like rag's Answer: iterate for the text; then `text`,
    `moments` and `citations`. An `error` event raises AnswerError, the moments kept."""

    def __init__(self, server: Server, question: str):
        self.server, self.question = server, question
        self.text, self.moments, self.citations = "", [], []

    def __iter__(self):
        from rag.errors import AnswerError
        from rag.types import Citation

        for event, data in self.server.ask_events(self.question, None):
            if event == "answer":
                self.text += data["text"]
                yield data["text"]
                continue
            self.moments = [moment_from_json(m) for m in data.get("moments", [])]
            if event == "error":
                raise AnswerError(data["error"])
            self.text = data.get("answer", self.text)
            self.citations = [Citation(label=c["label"], start_s=c["start_s"], video_id=c["video_id"],
                                       supported=c["supported"]) for c in data.get("citations", [])]
