"""The library's videos served by path, with HTTP range requests, instead of through st.video's
media store (which reads the whole file into the server's memory when a player opens, and again
on each seek: a 1.4 GB video cost 3 GB).

`vidrag/server/app.py` mounts the route under `/app/static/`, the prefix st.video accepts as a URL; Starlette's
FileResponse answers `Range:` with 206 and streams the bytes in small chunks from disk. Only
names the library gives its copies (`<16 hex digits>.<suffix>`) inside VIDRAG_DATA_DIR/videos are
served; anything else is 404.
"""

from __future__ import annotations

import mimetypes
import re

from rag.settings import Settings

VIDEO_ROUTE = "/app/static/vidrag/videos"
_STORED_NAME = re.compile(r"^[0-9a-f]{16}\.[a-z0-9]{1,8}$")
_mounted = False  # set when video_routes() is mounted in this process (vidrag serve)


def video_url(file: str) -> str | None:
    """The URL that streams a stored video, or None when the route is not mounted (the app was
    started as `streamlit run app.py`, not by `vidrag serve`)."""
    from pathlib import PurePath

    name = PurePath(file).name
    return f"{VIDEO_ROUTE}/{name}" if _mounted and _STORED_NAME.match(name) else None


def video_routes(settings: Settings) -> list:
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse
    from starlette.routing import Route

    global _mounted
    folder = settings.videos_dir.resolve()

    async def stream_video(request):
        name = request.path_params["name"]
        path = folder / name
        if not _STORED_NAME.match(name) or not path.is_file():
            raise HTTPException(status_code=404, detail="no such video")
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})

    _mounted = True
    return [Route(f"{VIDEO_ROUTE}/{{name}}", stream_video, methods=["GET", "HEAD"])]
