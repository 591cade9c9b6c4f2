"""`vidrag transcript ID`: what was said in a video, as text, JSON, SubRip or WebVTT."""

from __future__ import annotations

import sys

import click

from rag.videos.captions import TRANSCRIPT_FORMATS, format_transcript
from vidrag.cli import edge
from vidrag.cli.terminal import printable


@click.command()
@click.argument("video_id", metavar="ID")
@click.option("--format", "form", type=click.Choice(list(TRANSCRIPT_FORMATS)), default="text", show_default=True,
              help="text: `[mm:ss] words` lines; json: [{start_s, end_s, text}]; srt and webvtt: caption files.")
@edge
def transcript(video_id: str, form: str) -> int:
    """A video's transcript, with times."""
    from rag.settings import load_settings
    from vidrag.cli.remote import server_for

    settings = load_settings()
    server = server_for(settings)
    if server is not None:
        text = server.call("GET", f"/videos/{video_id}/transcript", params={"format": form}).text
    else:
        from rag.speakers import named
        from rag.store import Store
        from rag.videos.search import find_video

        store = Store(settings)
        try:
            video = find_video(store, video_id)
            said = named(store.video_text(video.id).said, video)
        finally:
            store.close()
        text = format_transcript(said, form)
    # Text is for a terminal; the file formats go out as they are (their text is escaped already).
    sys.stdout.write(printable(text, keep_newlines=True) if form == "text" else text)
    return 0


COMMANDS = (transcript,)
