"""Server memory while a large video plays and seeks in headless Chromium: the player by path
with range requests (vidrag/web/server.py's route) against st.video(path), which puts the whole file in
Streamlit's media store. Both run in one process each, side by side in one run.

The video (~1 GB, H.264 with noise so it doesn't compress away) is made once with ffmpeg: a short
clip, then repeated with `-c copy`, into bench/.cache (not committed).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.media import CACHE
from ingest.ffmpeg import ffmpeg_exe

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--autoplay-policy=no-user-gesture-required"]
STORED_NAME = "0123456789abcdef.mp4"  # the route serves only names the library gives its copies
SAMPLE_S = 0.1  # how often the server's RSS is read
SERVE = """import streamlit as st
from vidrag.web.video_route import video_routes
from rag.settings import load_settings
app = st.App({page!r}, routes=video_routes(load_settings()))
"""


def large_video(size_mb: int, folder: Path = CACHE) -> Path:
    """An H.264 mp4 of about `size_mb`: 10 s of noisy 720p, repeated with stream copy."""
    path = folder / f"player_{size_mb}mb.mp4"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / "player_clip_10s.mp4"
    ffmpeg = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if not clip.exists():
        subprocess.run([*ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10",
                        "-vf", "noise=alls=60:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16",
                        "-pix_fmt", "yuv420p", "-g", "50", str(clip)], check=True)
    repeats = max(1, round(size_mb * 2**20 / clip.stat().st_size))
    partial = path.with_suffix(".partial.mp4")
    subprocess.run([*ffmpeg, "-stream_loop", str(repeats - 1), "-i", str(clip), "-c", "copy",
                    "-movflags", "+faststart", str(partial)], check=True)
    partial.rename(path)
    return path


def run(size_mb: int = 1024, sessions: int = 3, seeks: int = 8) -> dict:
    video = large_video(size_mb)
    result = {"video_mb": round(video.stat().st_size / 2**20), "sessions": sessions, "seeks_per_session": seeks}
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "data"
        (data / "videos").mkdir(parents=True)
        stored = data / "videos" / STORED_NAME
        stored.symlink_to(video)  # the library's copy, without another GB on disk
        serve = Path(work) / "serve_bench.py"
        serve.write_text(SERVE.format(page=str(ROOT / "bench" / "player_page.py")))
        for mode in ("route", "media-store"):
            result[mode] = _measure(serve, mode, data, stored, sessions, seeks)
    return result


def _measure(serve: Path, mode: str, data: Path, stored: Path, sessions: int, seeks: int) -> dict:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = {**os.environ, "VIDRAG_DATA_DIR": str(data), "VIDRAG_BENCH_VIDEO": str(stored),
           "VIDRAG_BENCH_MODE": mode, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(serve), "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(f"{url}/_stcore/health")
        sampler = _RssSampler(server.pid)
        baseline = sampler.now_mb()  # the server is up; no session yet
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            sampler.start()
            for _ in range(sessions):
                page = browser.new_page()
                page.goto(url, wait_until="commit")
                page.wait_for_selector("video", timeout=600_000)  # st.video(path) reads the whole file first
                pages.append(page)
            opened = sampler.now_mb()  # every session has its player; nothing played yet
            started = time.monotonic()
            played = []
            for page in pages:
                page.evaluate("v => { v.muted = true; return v.play().catch(() => null); }",
                              page.query_selector("video"))
            for k in range(1, seeks + 1):
                for page in pages:  # every session seeks to the same spread of points
                    page.evaluate("""([k, n]) => new Promise(done => {
                        const v = document.querySelector('video');
                        const target = (v.duration || 0) * k / (n + 1);
                        const timer = setTimeout(done, 15000);
                        v.addEventListener('seeked', () => { clearTimeout(timer); done(); }, {once: true});
                        v.currentTime = target;
                    })""", [k, seeks])
                time.sleep(0.5)
            for page in pages:
                played.append(page.evaluate("() => { const v = document.querySelector('video');"
                                            " return {t: v.currentTime, ready: v.readyState, d: v.duration}; }"))
            elapsed = time.monotonic() - started
            browser.close()
        peak = sampler.stop()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"baseline_rss_mb": round(baseline), "players_open_rss_mb": round(opened), "peak_rss_mb": round(peak),
            "added_mb": round(peak - baseline),
            "seconds": round(elapsed, 1), "players": played}


class _RssSampler:
    """The peak resident memory of one process, read from /proc every SAMPLE_S."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now_mb())
            time.sleep(SAMPLE_S)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now_mb())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while True:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
