"""`vidrag read`: the text on screen of videos indexed without it (no OCR engine then, VIDRAG_OCR
off, or before the read stage existed), or of all again with --force."""

from __future__ import annotations

import sys
from urllib.parse import quote

import click

from rag.errors import VidragError
from rag.settings import load_settings
from vidrag.cli import edge
from vidrag.cli.edge import EXIT_ERROR
from vidrag.cli.library import _open_ingestor, _ProgressBars
from vidrag.cli.terminal import printable


@click.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--force", is_flag=True, help="Read videos that were read before again.")
@edge
def read(ids: tuple[str, ...], force: bool) -> int:
    """Read the text on screen of videos that lack it (default: every video)."""
    from ingest.backfill import read_backfill
    from vidrag.cli.remote import server_for, video_from_json

    settings = load_settings()
    server = server_for(settings)  # a running server owns the library: the work is its job
    ingestor = _open_ingestor(settings) if server is None else None
    if server is not None:
        videos = [video_from_json(server.get(f"/videos/{quote(i, safe='')}")) for i in ids] or [
            video_from_json(v) for v in server.get("/videos")["videos"]]
    else:
        videos = [ingestor.find(video_id) for video_id in ids] or ingestor.store.list_videos()
    failed = 0
    for video in videos:
        if not video.has_video:
            print(printable(f"{video.id}  {video.name}: audio only, nothing to read"))
            continue
        with _ProgressBars(video.name) as bars:
            if server is not None:
                result = _read_through(server, video, force, bars)
            else:
                result = read_backfill(ingestor, video, force=force, progress=bars.update)
        if result.warning:
            print(printable(f"warning: {video.name}: {result.warning}"), file=sys.stderr)
            failed += 1
        state = "read now" if result.newly_read else "read before" if not result.warning else "not read"
        print(printable(f"{video.id}  {video.name}: {result.rows} screen-text rows from {result.frames} frames "
                        f"({state})"))
    return EXIT_ERROR if failed else 0


def _read_through(server, video, force: bool, bars):
    """One video read by a job on the server; its outcome."""
    from ingest.backfill import ReadResult

    queued = server.call("POST", f"/videos/{video.id}/read", params={"force": "true"} if force else {})
    job = server.wait(queued.json()["job_id"], progress=bars.update)
    if job["state"] == "failed":
        raise VidragError(job["message"])
    r = job["result"]
    warning = job["warnings"][0] if job.get("warnings") else ""
    return ReadResult(video, r["frames"], r["rows"], r["newly_read"], warning)


COMMANDS = (read,)
