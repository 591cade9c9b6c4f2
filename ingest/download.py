"""Fetching a video by URL with yt-dlp, for "add by URL".

yt-dlp knows a thousand sites and plain direct links alike, but it is a command-line tool at heart: it
prints, reads user config and plugins, caches, resumes stale parts, names files after titles, and treats
"too big" as a quiet skip rather than an error. This module pins all of that down so a download either
leaves exactly one file under a name we chose, or leaves nothing and raises one line the user can act on.
"""

from __future__ import annotations

import glob
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rag.errors import IngestError, first_line

SOCKET_TIMEOUT_S = 30  # a stalled server fails the job instead of hanging it
RETRIES = 3  # yt-dlp's default of 10, times the socket timeout, is minutes of waiting on a dead host

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TAG = re.compile(r"^(?:ERROR:\s*)?(?:\[[^\]]+\]\s+(?:[^\s:]+:\s+)?)?")  # "ERROR: [generic] clip: ", ie and id
_TOO_BIG = re.compile(r"larger than max-filesize \((\d+) bytes")
# yt-dlp's messages wrap urllib3's; these say the same thing in words a user reads.
_REASONS = (
    (re.compile(r"connection refused", re.I), "connection refused"),
    (re.compile(r"name or service not known|getaddrinfo failed|nodename nor servname|name resolution", re.I),
     "host not found"),
    (re.compile(r"timed out", re.I), "timed out"),
    (re.compile(r"Unsupported URL", re.I), "no video found there (unsupported site or page)"),
)


@dataclass(frozen=True)
class Downloaded:
    path: Path  # the media file, inside the folder, under a name we generate (never the site's title)
    title: str  # the title yt-dlp reports; for a direct link, the file name part of the URL
    source_url: str  # the URL as given (stripped)


def check_url(url: str) -> str:
    """Validate before anything is fetched: http(s) only, a host, no whitespace or control characters.
    Return it stripped; raise IngestError with one line otherwise."""
    url = url.strip()
    shown = repr(url[:200])  # repr keeps the message on one line whatever the input holds
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise IngestError(f"URL has spaces or control characters: {shown}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as e:
        raise IngestError(f"not a valid URL: {shown} ({first_line(e)})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise IngestError(f"not a http(s) URL: {shown}")
    if not parts.hostname:
        raise IngestError(f"no host in URL: {shown}")
    return url


def download(url: str, folder: Path, max_bytes: int, progress: Callable[[float, float], None] | None = None,
             stem: str | None = None) -> Downloaded:
    """Download one video from `url` into folder/<stem or a uuid4 hex>.<ext>, at most `max_bytes`.

    Picks the best single-file format (no merging needed; the ffmpeg yt-dlp gets is imageio's, for
    the sites that only offer separate streams), preferring one whose reported size fits the limit.
    `progress(done_bytes, total_bytes)` is called as it goes; total is 0 while unknown. A playlist URL
    downloads its first entry only. A response that is not media (a text file served as .mp4) is
    downloaded as it is: yt-dlp cannot tell, and the ingest's probe refuses it afterwards.

    On any failure every file this call made in `folder` is removed and IngestError is raised with one
    line naming the URL. An exception raised by `progress` itself is re-raised unchanged, after cleanup.
    """
    url = check_url(url)
    stem = stem or uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    before = set(_ours(folder, stem))
    try:
        return _fetch(url, folder, stem, max_bytes, progress)
    except BaseException as e:
        for path in set(_ours(folder, stem)) - before:  # .part, .ytdl, fragments, an unmerged stream
            path.unlink(missing_ok=True)
        if isinstance(e, _Abort):
            raise e.error from None
        if isinstance(e, IngestError) or not isinstance(e, Exception):
            raise
        raise IngestError(f"cannot download {url}: {_reason(e)}") from e


class _Abort(Exception):
    """Raised inside yt-dlp's hooks to stop it; carries what the caller should see. Not an OSError or
    ExtractorError, so yt-dlp neither retries it nor turns it into its own DownloadError."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class _Log:
    """Swallows everything yt-dlp would print, keeping the one message that says a file was too big
    (yt-dlp skips such a file quietly and returns as if it had succeeded)."""

    too_big: int | None = None

    def debug(self, message: str) -> None:
        if match := _TOO_BIG.search(message):
            self.too_big = int(match.group(1))

    info = warning = error = debug


def _fetch(url: str, folder: Path, stem: str, max_bytes: int,
           progress: Callable[[float, float], None] | None) -> Downloaded:
    import yt_dlp
    import yt_dlp.globals

    from ingest.ffmpeg import ffmpeg_exe

    log = _Log()
    done: dict[str, float] = {}  # per file: a format that needs merging downloads two
    totals: dict[str, float] = {}

    def too_big(size: float) -> IngestError:
        return IngestError(f"{url} is {_size(size)}, over the {_size(max_bytes)} limit (VIDRAG_MAX_DOWNLOAD_MB)")

    def on_progress(status: dict) -> None:
        name = str(status.get("filename", ""))
        done[name] = float(status.get("downloaded_bytes") or 0)
        totals[name] = float(status.get("total_bytes") or status.get("total_bytes_estimate") or 0)
        if sum(done.values()) > max_bytes:  # yt-dlp's max_filesize only checks a Content-Length, if any
            raise _Abort(too_big(sum(done.values())))
        if progress is not None:
            try:
                progress(sum(done.values()), sum(totals.values()) if all(totals.values()) else 0.0)
            except BaseException as e:
                raise _Abort(e) from e

    def refuse_if_too_big(info: dict, *, incomplete: bool) -> None:
        size = info.get("filesize") or info.get("filesize_approx")
        if not incomplete and size and size > max_bytes:  # the site said so: nothing is fetched
            raise _Abort(too_big(size))

    fits = f"[filesize<?{max_bytes}][filesize_approx<?{max_bytes}]"
    options = {
        # Single files first (no merging); the best that fits the limit, else the best (refused above).
        "format": f"b{fits}/b/bv*{fits}+ba/bv*+ba/b*",
        "paths": {"home": str(folder), "temp": str(folder)},
        "outtmpl": {"default": stem.replace("%", "%%") + ".%(ext)s"},  # our name, never the title
        "ffmpeg_location": ffmpeg_exe(),
        "max_filesize": max_bytes,
        "match_filter": refuse_if_too_big,
        "progress_hooks": [on_progress],
        "noplaylist": True,  # a video inside a playlist: just the video
        "playlist_items": "1",  # a playlist itself: its first entry
        "socket_timeout": SOCKET_TIMEOUT_S,
        "retries": RETRIES,
        "fragment_retries": RETRIES,
        "continuedl": False,  # a .part under this stem is stale, never a resume of this URL
        "overwrites": True,
        "updatetime": False,  # the file's mtime is when we fetched it, not the server's Last-Modified
        "cachedir": False,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": "no_color",
        "logger": log,
    }
    # The Python API reads no config file (only yt-dlp's CLI does), but it does import plugins from the
    # user's folders on first use; this process never wants those.
    yt_dlp.globals.plugin_dirs.value = []
    with yt_dlp.YoutubeDL(options) as ydl:
        info = ydl.extract_info(url, download=True)
    if info and info.get("_type") == "playlist":
        info = next(iter(info.get("entries") or []), None)
    files = [Path(d["filepath"]) for d in (info or {}).get("requested_downloads", []) if d.get("filepath")]
    if not files or not files[0].is_file():
        if log.too_big:
            raise too_big(log.too_big)
        raise IngestError(f"cannot download {url}: yt-dlp produced no file")
    name = unquote(Path(urlsplit(url).path).name)
    return Downloaded(path=files[0], title=str(info.get("title") or name or url), source_url=url)


def _ours(folder: Path, stem: str) -> list[Path]:
    return [p for p in folder.glob(glob.escape(stem) + ".*") if p.is_file()]


def _reason(error: BaseException) -> str:
    """yt-dlp's message without its "ERROR: [extractor] id: " prefix, colours, cause, or later lines."""
    text = _TAG.sub("", _ANSI.sub("", first_line(error))).strip()
    for pattern, reason in _REASONS:
        if pattern.search(text):
            return reason
    if match := re.search(r"HTTP Error (\d{3}):?\s*([^(]*)", text):
        return f"HTTP {match.group(1)} {match.group(2).strip()}".strip()
    return re.sub(r"\s*\(caused by .*$", "", text) or type(error).__name__


def _size(n: float) -> str:
    """Bytes in words: 8736 -> "8.5 KB", 100 << 20 -> "100 MB"."""
    if n < 1024:
        return f"{n:.0f} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1024
        if n < 1024 or unit == "TB":
            break
    return f"{n:.1f}".removesuffix(".0") + f" {unit}"
