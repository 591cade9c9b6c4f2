"""`vidrag speakers ID [LABEL NAME]`: a video's speakers, and a name for one of them."""

from __future__ import annotations

import json

import click

from vidrag.cli import edge
from vidrag.cli.terminal import printable


@click.command()
@click.argument("video_id", metavar="ID")
@click.argument("label", required=False)
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the video's speakers as JSON.")
@edge
def speakers(video_id: str, label: str | None, name: str | None, as_json: bool) -> int:
    """List a video's speakers; with LABEL and NAME, name one ("S2" "Maria"; "" takes it back)."""
    from rag.errors import VidragError
    from rag.settings import load_settings
    from vidrag.cli.remote import server_for, video_from_json

    if label is not None and name is None:
        raise VidragError("give the speaker's new name after its label (\"\" takes the name back)")
    settings = load_settings()
    server = server_for(settings)
    if server is not None:
        video = video_from_json(server.get(f"/videos/{video_id}"))
        if label is not None:
            video = video_from_json(server.call("POST", f"/videos/{video.id}/speakers/{label}",
                                                json={"name": name}).json())
    else:
        from rag.speakers import rename
        from rag.store import Store
        from rag.videos.search import find_video

        store = Store(settings)
        try:
            video = find_video(store, video_id)
            if label is not None:
                video = rename(store, video, label, name)
        finally:
            store.close()
    listed = [{"label": f"S{n}", "name": video.speaker_names.get(f"S{n}", "")} for n in range(1, video.speakers + 1)]
    if as_json:
        print(json.dumps({"video_id": video.id, "speakers": listed}, indent=2, ensure_ascii=False))
    elif not listed:
        print(printable(f"{video.name}: no speakers"))
    else:
        for item in listed:
            print(printable(f"{item['label']}  {item['name']}".rstrip()))
    return 0


COMMANDS = (speakers,)
