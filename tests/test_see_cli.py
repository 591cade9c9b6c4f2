"""Descriptions, tags, image search and "more like this" from the command line, as a user runs
them, against the loopback OpenAI stub."""

import json

import pytest

from conftest import COOKING_CUES, make_video, write_srt
from openai_stub import StubVLM, frame_word

pytestmark = pytest.mark.slow  # each step starts a Python process that loads the models


def test_describe_tag_and_search_by_word_and_image(run_cli, tmp_path):
    from PIL import Image

    video = make_video(tmp_path / "cooking.mp4", 20, audio=False, size="160x120", rate=5, gop=5,
                       extra=("-vf", "hue=h=t*40"))
    write_srt(tmp_path / "cooking.srt", COOKING_CUES[:4])
    # Random CLIP weights pass no tag threshold over ~400 labels; four labels always give one.
    (tmp_path / "tags.txt").write_text("dog\nbeach\nkitchen\nmountain\n")
    assert "frames not described (VIDRAG_DESCRIBE=off)" in run_cli(
        "add", str(video), env={"VIDRAG_DESCRIBE": "off", "VIDRAG_TAGS_FILE": str(tmp_path / "tags.txt")},
        check=True).stdout
    with StubVLM() as stub:
        env = {"VIDRAG_VLM_BASE_URL": stub.base_url}
        first = run_cli("describe", env=env, check=True)
        assert "4 of 4 frames described (4 now)" in first.stdout
        sent = len(stub.requests)
        second = run_cli("describe", env=env, check=True)
        assert "4 of 4 frames described (0 now)" in second.stdout and len(stub.requests) == sent

    (entry,) = json.loads(run_cli("list", "--json", check=True).stdout)
    assert entry["described_frames"] == entry["frames"] == 4
    assert entry["tags"] and {"tag", "share"} == entry["tags"][0].keys() and "frame_tags" not in entry

    frame_path = tmp_path / "data" / "frames" / entry["id"] / "000002.jpg"
    assert frame_path.is_file()
    frames = json.loads(run_cli("search", "--image", str(frame_path), "--k", "4", "--json",
                                check=True).stdout)
    at = frames[0]["frame_s"]
    word = frame_word(at)
    found = json.loads(run_cli("search", word, "--json", check=True).stdout)
    assert any(m["start_s"] <= at < m["end_s"] and word in m["seen"] for m in found)

    query = tmp_path / "half.png"
    with Image.open(frame_path) as image:
        image.resize((image.width // 2, image.height // 2)).save(query)
    by_image = json.loads(run_cli("search", "--image", str(query), "--json", check=True).stdout)
    assert by_image[0]["frame_path"] == str(frame_path) and by_image[0].keys() == found[0].keys()

    similar = json.loads(run_cli("similar", entry["id"], "--at", str(at), "--json", check=True).stdout)
    assert similar and all(m["frame_path"] != str(frame_path) for m in similar)

    (tmp_path / "notes.png").write_text("hello")
    bad = run_cli("search", "--image", str(tmp_path / "notes.png"))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "not a JPEG, PNG or WebP" in bad.stderr
