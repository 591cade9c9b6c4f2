"""The route that streams library videos by path, with HTTP range requests (vidrag/web/server.py mounts it)."""

import pytest

from vidrag.web import video_route


@pytest.fixture
def client(settings):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    settings.videos_dir.mkdir(parents=True)
    (settings.videos_dir / "0123456789abcdef.mp4").write_bytes(bytes(range(256)) * 4096)  # 1 MB
    (settings.data_dir / "secret.txt").write_text("not a video")
    with TestClient(Starlette(routes=video_route.video_routes(settings))) as client:
        yield client


def test_range_requests_get_just_those_bytes(client):
    url = video_route.video_url("/anywhere/videos/0123456789abcdef.mp4")
    assert url == "/app/static/vidrag/videos/0123456789abcdef.mp4"  # st.video takes /app/static/ URLs
    part = client.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.headers["content-range"] == "bytes 1000-1999/1048576"
    assert part.content == (bytes(range(256)) * 4096)[1000:2000]
    whole = client.get(url)
    assert whole.status_code == 200 and len(whole.content) == 1 << 20 and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize("name", ["..%2Fsecret.txt", "secret.txt", "0123456789abcdef.partial.mp4", "FFFF.mp4"])
def test_only_stored_video_names_are_served(client, name):
    assert client.get(f"{video_route.VIDEO_ROUTE}/{name}").status_code in (404, 400)
