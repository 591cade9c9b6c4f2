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
            raise VidragError(message)
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
    )
