"""`vidrag summarize|videos|similar` as a user runs them, against a loopback VLM."""

import json
import shutil

import pytest

from conftest import BUNNY_CUES, COOKING_CUES, make_video, write_srt
from openai_stub import StubVLM

pytestmark = pytest.mark.slow  # each test starts Python processes that load the models


def test_summarize_big_buck_bunny_in_every_format_and_a_fault(run_cli, shared_media, tmp_path):
    """JSON with sorted chapters inside 0-30 s, the first at 0; YouTube lines; a WebVTT chapters
    track; and a failing VLM: one line naming it, exit 3, the stored summary unchanged."""
    clip = tmp_path / "bunny.webm"
    shutil.copyfile(shared_media / "big_buck_bunny_0_30.webm", clip)
    write_srt(tmp_path / "bunny.srt", BUNNY_CUES)
    run_cli("add", str(clip), check=True, env={"VIDRAG_SUMMARIZE": "off"})
    video_id = json.loads(run_cli("list", "--json", check=True).stdout)[0]["id"]
    with StubVLM() as stub:
        env = {"VIDRAG_VLM_BASE_URL": stub.base_url}
        out = json.loads(run_cli("summarize", video_id, "--json", env=env, check=True).stdout)
        youtube = run_cli("summarize", video_id[:6], "--format", "youtube", env=env, check=True).stdout
        webvtt = run_cli("summarize", video_id, "--format", "webvtt", env=env, check=True).stdout
    assert len(stub.requests) == 1  # written once, then read back
    assert set(out) == {"video_id", "summary", "chapters"} and out["video_id"] == video_id and out["summary"]
    starts = [c["start_s"] for c in out["chapters"]]
    assert starts[0] == 0 and starts == sorted(starts) and all(0 <= s < 30 for s in starts)
    assert youtube.splitlines() == [f"00:{int(c['start_s']):02d} {c['title']}" for c in out["chapters"]]
    lines = webvtt.splitlines()
    assert lines[0] == "WEBVTT" and lines[2] == "1" and lines[3].startswith("00:00:00.000 --> ")
    assert lines[-1] == out["chapters"][-1]["title"] and " --> 00:00:30." in webvtt

    with StubVLM(mode="error") as broken:
        failed = run_cli("summarize", video_id, "--force", env={"VIDRAG_VLM_BASE_URL": broken.base_url})
    assert failed.returncode == 3 and failed.stdout == ""
    assert failed.stderr.strip().count("\n") == 0 and broken.base_url in failed.stderr
    again = run_cli("summarize", video_id, "--json", check=True, env={"VIDRAG_VLM_BASE_URL": broken.base_url})
    assert json.loads(again.stdout) == out


def test_videos_and_similar_json(run_cli, tmp_path):
    """Videos for a query with their best moment; similar videos without the video itself."""
    for name, cues, seconds in [("cooking.mp4", COOKING_CUES, 45), ("other.mp4", BUNNY_CUES, 30)]:
        video = make_video(tmp_path / name, seconds, audio=False, size="160x120", rate=5, gop=25)
        write_srt(video.with_suffix(".srt"), cues)
    run_cli("add", str(tmp_path), check=True, env={"VIDRAG_SUMMARIZE": "off"})
    ids = {v["name"]: v["id"] for v in json.loads(run_cli("list", "--json", check=True).stdout)}
    found = json.loads(run_cli("videos", "knead the dough", "--json", check=True).stdout)
    assert [r["name"] for r in found][0] == "cooking.mp4" and {"video_id", "name", "score", "moment"} <= found[0].keys()
    assert found[0]["video_id"] == ids["cooking.mp4"] and found[0]["moment"]["start_s"] == 10.0
    similar = json.loads(run_cli("similar", ids["cooking.mp4"], "--json", check=True).stdout)
    assert [r["video_id"] for r in similar] == [ids["other.mp4"]] and similar[0]["score"] > 0
