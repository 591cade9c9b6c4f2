"""`vidrag read`: the text on screen of videos indexed without it (no OCR engine then, VIDRAG_OCR
off, or before the read stage existed), or of all again with --force."""

from __future__ import annotations

import sys

import click

from rag.settings import load_settings
from vidrag.cli import edge
from vidrag.cli.edge import EXIT_ERROR
from vidrag.cli.library import ProgressBars, backfill_job, backfill_targets
from vidrag.cli.terminal import printable


@click.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--force", is_flag=True, help="Read videos that were read before again.")
@edge
def read(ids: tuple[str, ...], force: bool) -> int:
    """Read the text on screen of videos that lack it (default: every video)."""
    from ingest.backfill import read_backfill

    server, ingestor, videos = backfill_targets(ids, load_settings())
    failed = 0
    for video in videos:
        if not video.has_video:
            print(printable(f"{video.id}  {video.name}: audio only, nothing to read"))
            continue
        with ProgressBars(video.name) as bars:
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

    job = backfill_job(server, "read", video, force, bars)
    r = job["result"]
    warning = job["warnings"][0] if job.get("warnings") else ""
    return ReadResult(video, r["frames"], r["rows"], r["newly_read"], warning)


COMMANDS = (read,)
