"""`vidrag add|list|remove|describe`: the library's videos from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

import click

from rag.clock import format_clock
from rag.errors import VidragError
from rag.settings import Settings, load_settings
from vidrag.cli import edge
from vidrag.cli.edge import EXIT_ERROR, error_line
from vidrag.cli.terminal import printable


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH|URL...")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Run the stages on Ray: local, auto or ray://host:10001 (default VIDRAG_RAY_ADDRESS).")
@edge
def add(paths: tuple[str, ...], ray_address: str | None) -> int:
    """Index media files, the media files in folders, or videos by URL."""
    settings = load_settings()
    if ray_address is not None:
        settings = settings.model_copy(update={"ray_address": ray_address})
    return _add(paths, settings)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@edge
def jobs(as_json: bool) -> int:
    """The server's ingest jobs: queued, running and recent."""
    from vidrag.cli.remote import server_for

    settings = load_settings()
    server = server_for(settings)
    if server is not None:
        listed = server.get("/jobs")["jobs"]
    else:  # no server: the queue on disk, read as it is
        from ingest.job_store import JobStore

        store = JobStore(settings.data_dir)
        listed = [job.to_json() for job in store.recent()]
        store.close()
    if as_json:
        print(json.dumps(listed, indent=2, ensure_ascii=False))
    elif not listed:
        print("No ingest jobs.")
    for job in [] if as_json else listed:
        stage = f" ({job['stage']})" if job["state"] == "running" and job["stage"] else ""
        detail = f": {job['message']}" if job["message"] else (f"  {job['video_id']}" if job["video_id"] else "")
        print(printable(f"{job['id'][:12]}  {job['state']:>7}{stage}  {job['name']}{detail}"))
    return 0


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@edge
def list_videos(as_json: bool) -> int:
    """List the indexed videos."""
    return _list(as_json, load_settings())


@click.command()
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@edge
def remove(ids: tuple[str, ...]) -> int:
    """Delete videos from the index, with their frames and files."""
    return _remove(ids, load_settings())


@click.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--force", is_flag=True, help="Redo descriptions and tags that exist.")
@edge
def describe(ids: tuple[str, ...], force: bool) -> int:
    """Describe and tag frames that lack it (default: every video)."""
    return _describe(ids, force, load_settings())


COMMANDS = (add, list_videos, remove, describe, jobs)


def _open_ingestor(settings: Settings):
    from ingest.pipeline import Ingestor

    workers = None
    if settings.ray_address:
        from ingest.distributed import RayWorkers

        # Ray first: its processes are forked before Milvus Lite's gRPC threads exist.
        workers = RayWorkers(settings)
    try:
        return Ingestor(settings, notify=lambda message: print(printable(message), file=sys.stderr), workers=workers)
    except BaseException:
        if workers is not None:
            workers.close()
        raise


def _add(paths, settings: Settings) -> int:
    from ingest.pipeline import media_files

    files: list = []
    failed = 0
    for raw in paths:
        if raw.startswith(("http://", "https://")):
            files.append(raw)  # a URL: downloaded by yt-dlp, here or by the server
            continue
        path = Path(raw)
        unreadable: list[str] = []  # and other reasons a path gave nothing to add
        try:
            is_dir = path.is_dir()
        except PermissionError:  # a folder on the way can't be read: ingest says so, per file
            is_dir = False
        found = media_files(path, unreadable) if is_dir else [path]
        if is_dir and not found and not unreadable:
            unreadable.append(f"{raw}: no media files in this folder")
        for problem in unreadable:
            error_line(problem)
            failed += 1
        files += found
    from vidrag.cli.remote import server_for

    server = server_for(settings) if files else None
    ingestor = _open_ingestor(settings) if files and server is None else None
    if ingestor is not None and ingestor.workers is not None:
        from vidrag.cli.fanout import add_in_parallel

        try:
            failed += add_in_parallel(ingestor, files)
        finally:
            ingestor.workers.close()
        return EXIT_ERROR if failed else 0
    for path in files:
        label = path if isinstance(path, str) else path.name

        def one(path=path, label=label):
            with ProgressBars(label) as bars:
                if isinstance(path, str):
                    return _add_url(server, ingestor, path, bars)
                return _add_through(server, path, bars) if server else ingestor.add(path, progress=bars.update)

        failed += not report_added(label, one)
    return EXIT_ERROR if failed else 0


def report_added(label: str, add) -> bool:
    """`add()`'s result as the add line and its warnings, or its error as one line; whether it added."""
    try:
        result = add()
    except VidragError as e:
        error_line(f"{e}" if label in str(e) else f"{label}: {e}")
        return False
    for warning in result.warnings:
        print(printable(f"warning: {result.video.name}: {warning}"), file=sys.stderr)
    print(printable(_summary(result)))
    return True

def _add_url(server, ingestor, url: str, bars):
    """A video by URL: a job on the server, or downloaded here into the data folder and added."""
    if server is not None:
        return _result_of(server, server.wait(server.call("POST", "/videos", json={"url": url}).json()["job_id"],
                                              progress=bars.update))
    from ingest.download import check_url, download

    settings = ingestor.settings
    downloaded = download(check_url(url), settings.data_dir / "uploads", settings.max_download_mb << 20,
                          progress=lambda done, total: bars.update("download", done, total or done + 1))
    try:
        return ingestor.add(downloaded.path, name=downloaded.title or downloaded.path.name, progress=bars.update,
                            owned=True, extra={"source_url": downloaded.source_url, "title": downloaded.title})
    finally:
        downloaded.path.unlink(missing_ok=True)


def _add_through(server, path: Path, bars):
    """One add as a job on the server, waited for: the same result as in-process."""
    from ingest.pipeline import check_readable

    check_readable(path)  # the same one line as in-process, before anything is sent
    return _result_of(server, server.wait(server.add(path)["job_id"], progress=bars.update))


def _result_of(server, job: dict):
    """An ended job as the AddResult an in-process add gives."""
    from ingest.pipeline import AddResult
    from vidrag.cli.remote import video_from_json

    if job["state"] == "failed":
        raise VidragError(job["message"])
    video = video_from_json(server.get(f"/videos/{job['video_id']}"))
    result = job.get("result") or {}
    status = "exists" if job["state"] == "exists" else result.get("status", "added")
    return AddResult(video, "added" if status == "exists" and job["state"] == "done" else status,
                     job.get("warnings", []), result.get("described", 0), result.get("not_described", ""))


def _summary(result) -> str:
    video = result.video
    if result.status == "exists":
        return f"{video.id}  {video.name}: already indexed, nothing changed"
    done = "added" if result.status == "added" else "added (cleaned up an interrupted earlier try)"
    parts = [format_clock(video.duration_s)]
    if video.has_video:
        parts.append(f"{video.frames} frames")
    parts.append(f"{video.text_chunks} text chunks")
    parts.append(f"transcript: {video.transcript_source}" + (f", {video.language}" if video.language else ""))
    if video.text_chunks:
        parts.append(f"{video.speakers} speaker{'s' if video.speakers != 1 else ''}" if video.speakers
                     else "no speakers")
    if video.has_video:
        parts.append(f"{result.described} frames described" if not result.not_described
                     else f"frames not described ({result.not_described})")
        parts.append("screen text read" if video.extra.get("screen_read") else "screen text not read")
    return f"{video.id}  {video.name}: {done}, {', '.join(parts)}"


def _list(as_json: bool, settings: Settings) -> int:
    from vidrag.cli.remote import server_for, video_from_json

    server = server_for(settings)
    if server is not None:
        listed = server.get("/videos")["videos"]
        videos = [video_from_json(v) for v in listed]
    else:
        from rag.store import Store
        from rag.videos.search import listed_video

        store = Store(settings)
        videos = store.list_videos()
        listed = [listed_video(store, video) for video in videos]
    if as_json:
        print(json.dumps(listed, indent=2, ensure_ascii=False))
    elif not videos:
        print("No videos yet. Add some with: vidrag add PATH")
    else:
        for v in videos:
            frames = f"{v.frames:>5} frames" if v.has_video else "   audio only"
            language = v.language or "--"
            duration = format_clock(v.duration_s)
            print(printable(f"{v.id}  {duration:>8}  {frames}  {v.text_chunks:>4} chunks  {language:>3}  {v.name}"))
    return 0


def _remove(ids, settings: Settings) -> int:
    from vidrag.cli.remote import server_for, video_from_json

    server = server_for(settings)
    ingestor = _open_ingestor(settings) if server is None else None
    failed = 0
    for video_id in ids:
        try:
            if server is not None:
                video = video_from_json(server.call("DELETE", f"/videos/{video_id}").json()["removed"])
            else:
                video = ingestor.remove(video_id)
        except VidragError as e:
            error_line(str(e))
            failed += 1
            continue
        print(printable(f"{video.id}  {video.name}: removed"))
    return EXIT_ERROR if failed else 0


def backfill_targets(ids, settings: Settings):
    """(server or None, ingestor or None, videos) for `describe`/`read` of `ids` (none: every
    video): through a running server, which owns the library, or on the library itself."""
    from vidrag.cli.remote import server_for, video_from_json

    server = server_for(settings)
    if server is not None:
        videos = [video_from_json(server.get(f"/videos/{quote(i, safe='')}")) for i in ids] or [
            video_from_json(v) for v in server.get("/videos")["videos"]]
        return server, None, videos
    ingestor = _open_ingestor(settings)
    return None, ingestor, [ingestor.find(video_id) for video_id in ids] or ingestor.store.list_videos()


def backfill_job(server, kind: str, video, force: bool, bars) -> dict:
    """A `describe` or `read` job for one video on the server, waited for: the finished job."""
    queued = server.call("POST", f"/videos/{video.id}/{kind}", params={"force": "true"} if force else {})
    job = server.wait(queued.json()["job_id"], progress=bars.update)
    if job["state"] == "failed":
        raise VidragError(job["message"])
    return job


def _describe(ids, force: bool, settings: Settings) -> int:
    from ingest.backfill import backfill

    server, ingestor, videos = backfill_targets(ids, settings)
    failed = 0
    for video in videos:
        if not video.has_video:
            print(printable(f"{video.id}  {video.name}: audio only, nothing to describe"))
            continue
        with ProgressBars(video.name) as bars:
            if server is not None:  # a job on the server, waited for: the same figures
                video, result = _describe_through(server, video, force, bars)
            else:
                result = backfill(ingestor, video, force=force, progress=bars.update)
        if result.warning:
            print(printable(f"warning: {video.name}: {result.warning}"), file=sys.stderr)
            failed += 1
        tags = ", ".join(f"{t['tag']} {t['share']:.0%}" for t in video.tags[:5]) or "none"
        print(printable(f"{video.id}  {video.name}: {result.described} of {result.frames} frames described "
                        f"({result.newly_described} now), tags{' (new)' if result.tagged else ''}: {tags}"))
    return EXIT_ERROR if failed else 0


def _describe_through(server, video, force: bool, bars):
    """One video described by a job on the server: the video as it is now, and the outcome."""
    from ingest.backfill import BackfillResult
    from vidrag.cli.remote import video_from_json

    job = backfill_job(server, "describe", video, force, bars)
    video = video_from_json(server.get(f"/videos/{video.id}"))
    r = job["result"]
    warning = job["warnings"][0] if job.get("warnings") else ""
    return video, BackfillResult(video, r["frames"], r["described"], r["newly_described"], r["tagged"], warning)


class ProgressBars:
    """One tqdm bar per stage on a terminal; silent otherwise."""

    def __init__(self, name: str):
        self.name = name
        self.enabled = sys.stderr.isatty()
        self.bar = None
        self.stage = None

    def __enter__(self):
        return self

    def update(self, stage: str, done: float, total: float) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self._close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=printable(f"{self.name[:24]} {stage}"), unit="", leave=False)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __exit__(self, *exc):
        self._close()
        return False
