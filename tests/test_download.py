"""ingest.download against a real HTTP server on 127.0.0.1 serving a real ffmpeg-made clip.
Real yt-dlp, real sockets; nothing reaches the internet."""

from __future__ import annotations

import functools
import http.server
import json
import re
import socket
import threading
from pathlib import Path

import pytest

from conftest import make_video
from ingest.download import Downloaded, check_url, download
from ingest.probe import probe
from rag.errors import IngestError

MB = 1 << 20


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; under /nolen/ without a Content-Length, as a chunked-style server would."""

    requested: list[str] = []

    def log_message(self, *args) -> None:  # the server's own log is not what these tests check
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the client hung up on purpose (too big)
            pass

    def do_GET(self) -> None:
        self.requested.append(self.path)
        if self.path.startswith("/nolen/"):
            data = (Path(self.directory) / self.path.removeprefix("/nolen/")).read_bytes()
            self.protocol_version = "HTTP/1.0"  # the body ends when the connection closes
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            for i in range(0, len(data), 1000):
                self.wfile.write(data[i : i + 1000])
            return
        super().do_GET()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(base URL, served folder, request log): clip.mp4, a second clip, a text file named .mp4, pages."""
    root = tmp_path_factory.mktemp("site")
    make_video(root / "clip.mp4", 2, audio=False, size="160x120", rate=5)
    make_video(root / "second.mp4", 1, audio=False, size="160x120", rate=5)
    (root / "notvideo.mp4").write_text("this is not a video\n")
    (root / "empty.html").write_text("<html><head><title>Nothing</title></head><body><p>hi</p></body></html>")
    (root / "two.html").write_text('<html><head><title>Two clips</title></head><body>'
                                   '<video src="clip.mp4"></video><video src="second.mp4"></video></body></html>')
    handler = type("Handler", (_Handler,), {"requested": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    # A page whose schema.org metadata says its video is 500 MB: yt-dlp reports that as the filesize.
    meta = {"@context": "https://schema.org", "@type": "VideoObject", "name": "Huge film",
            "contentUrl": f"{base}/clip.mp4", "contentSize": str(500 * MB)}
    (root / "huge.html").write_text('<html><head><title>Huge</title><script type="application/ld+json">'
                                    f"{json.dumps(meta)}</script></head><body></body></html>")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, root, handler.requested
    server.shutdown()
    server.server_close()


def _one_line_error(excinfo: pytest.ExceptionInfo[IngestError]) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message and "\x1b" not in message and not message.startswith("ERROR")
    return message


def test_direct_link_downloads_under_a_generated_name(site, tmp_path, capfd):
    base, root, _ = site
    seen: list[tuple[float, float]] = []
    got = download(f"  {base}/clip.mp4\n", tmp_path, 100 * MB, progress=lambda d, t: seen.append((d, t)))
    assert isinstance(got, Downloaded)
    assert got.path.parent == tmp_path and re.fullmatch(r"[0-9a-f]{32}\.mp4", got.path.name)
    assert got.path.read_bytes() == (root / "clip.mp4").read_bytes()
    assert got.title == "clip"
    assert got.source_url == f"{base}/clip.mp4"
    assert list(tmp_path.iterdir()) == [got.path]  # no .part, .ytdl, or info files left beside it
    size = (root / "clip.mp4").stat().st_size
    assert seen and seen[-1] == (size, size)
    assert all(d <= t for d, t in seen)
    assert capfd.readouterr() == ("", "")  # yt-dlp's progress bar and notes went nowhere


def test_stem_names_the_file(site, tmp_path):
    base, _, _ = site
    got = download(f"{base}/clip.mp4", tmp_path, 100 * MB, stem="job-42")
    assert got.path == tmp_path / "job-42.mp4"


def test_over_the_limit_with_content_length_is_refused_before_any_bytes(site, tmp_path):
    base, root, _ = site
    size = (root / "clip.mp4").stat().st_size
    seen: list[tuple[float, float]] = []
    with pytest.raises(IngestError) as excinfo:
        download(f"{base}/clip.mp4", tmp_path, size - 1, progress=lambda d, t: seen.append((d, t)))
    message = _one_line_error(excinfo)
    assert message.startswith(f"{base}/clip.mp4 is ") and "limit (VIDRAG_MAX_DOWNLOAD_MB)" in message
    assert seen == []
    assert list(tmp_path.iterdir()) == []


def test_over_the_limit_without_content_length_stops_mid_download(site, tmp_path):
    base, root, _ = site
    limit = (root / "clip.mp4").stat().st_size // 2
    seen: list[tuple[float, float]] = []
    with pytest.raises(IngestError) as excinfo:
        download(f"{base}/nolen/clip.mp4", tmp_path, limit, progress=lambda d, t: seen.append((d, t)))
    message = _one_line_error(excinfo)
    assert "VIDRAG_MAX_DOWNLOAD_MB" in message and "/nolen/clip.mp4" in message
    assert seen and all(total == 0 for _, total in seen)  # the size was never known
    assert list(tmp_path.iterdir()) == []  # the .part it had started is gone


def test_reported_size_over_the_limit_is_refused_before_downloading(site, tmp_path):
    # The clip is small, but the page says 500 MB: what the site reports is what is checked first.
    base, _, requested = site
    requested.clear()
    seen: list[tuple[float, float]] = []
    with pytest.raises(IngestError) as excinfo:
        download(f"{base}/huge.html", tmp_path, 100 * MB, progress=lambda d, t: seen.append((d, t)))
    assert _one_line_error(excinfo) == f"{base}/huge.html is 500 MB, over the 100 MB limit (VIDRAG_MAX_DOWNLOAD_MB)"
    assert seen == []
    assert requested.count("/clip.mp4") <= 1  # yt-dlp's generic extractor looks at its headers, no more
    assert list(tmp_path.iterdir()) == []


def test_404_is_one_line_and_prints_nothing(site, tmp_path, capfd):
    base, _, _ = site
    with pytest.raises(IngestError) as excinfo:
        download(f"{base}/missing.mp4", tmp_path, 100 * MB)
    assert _one_line_error(excinfo) == f"cannot download {base}/missing.mp4: HTTP 404 File not found"
    assert list(tmp_path.iterdir()) == []
    assert capfd.readouterr() == ("", "")


def test_refused_port_is_one_line_and_prints_nothing(tmp_path, capfd):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.mp4"
    with pytest.raises(IngestError) as excinfo:
        download(url, tmp_path, 100 * MB)
    assert _one_line_error(excinfo) == f"cannot download {url}: connection refused"
    assert list(tmp_path.iterdir()) == []
    assert capfd.readouterr() == ("", "")


def test_page_without_video_is_one_line(site, tmp_path, capfd):
    base, _, _ = site
    with pytest.raises(IngestError) as excinfo:
        download(f"{base}/empty.html", tmp_path, 100 * MB)
    message = _one_line_error(excinfo)
    assert message == f"cannot download {base}/empty.html: no video found there (unsupported site or page)"
    assert list(tmp_path.iterdir()) == []
    assert capfd.readouterr() == ("", "")


def test_a_playlist_downloads_its_first_entry_only(site, tmp_path):
    base, root, _ = site
    got = download(f"{base}/two.html", tmp_path, 100 * MB, stem="page")
    assert list(tmp_path.iterdir()) == [got.path]
    assert got.path.read_bytes() == (root / "clip.mp4").read_bytes()
    assert got.title.startswith("Two clips")


def test_text_served_as_mp4_downloads_and_the_probe_refuses_it(site, tmp_path):
    # yt-dlp cannot tell a mislabelled text file from a video; the ingest's probe is what says no.
    base, root, _ = site
    got = download(f"{base}/notvideo.mp4", tmp_path, 100 * MB)
    assert got.path.read_bytes() == (root / "notvideo.mp4").read_bytes()
    with pytest.raises(IngestError, match="not a video or audio file"):
        probe(str(got.path))


def test_an_error_from_the_progress_callback_is_reraised_after_cleanup(site, tmp_path):
    base, _, _ = site

    class Cancelled(Exception):
        pass

    def cancel(done: float, total: float) -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):
        download(f"{base}/clip.mp4", tmp_path, 100 * MB, progress=cancel)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("url", "expected"), [
    ("ftp://x", "not a http(s) URL: 'ftp://x'"),
    ("not a url", "URL has spaces or control characters: 'not a url'"),
    ("http://", "no host in URL: 'http://'"),
    ("http://a b/", "URL has spaces or control characters: 'http://a b/'"),
    ("http://a/\x00", "URL has spaces or control characters: 'http://a/\\x00'"),
    ("http://a:port/", "not a valid URL: 'http://a:port/'"),
    ("notaurl", "not a http(s) URL: 'notaurl'"),
])
def test_check_url_rejects_with_one_line(url, expected):
    with pytest.raises(IngestError) as excinfo:
        check_url(url)
    assert _one_line_error(excinfo).startswith(expected)


def test_check_url_returns_the_url_stripped():
    assert check_url("  https://example.com/v?id=1 \n") == "https://example.com/v?id=1"


def test_bad_url_is_refused_before_anything_is_made(tmp_path):
    with pytest.raises(IngestError, match="not a http"):
        download("file:///etc/passwd", tmp_path / "new", 100 * MB)
    assert not (tmp_path / "new").exists()
