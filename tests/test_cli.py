"""`vidrag` as a user runs it: one-line errors, nothing indexed is lost or changed."""

import json

import pytest

from conftest import make_video, write_srt

pytestmark = pytest.mark.slow  # each test starts Python processes that load the models


def _listed(run_cli) -> list[dict]:
    return json.loads(run_cli("list", "--json", check=True).stdout)


def test_add_list_remove(run_cli, tmp_path):
    video = make_video(tmp_path / "cooking show.mp4", 11, audio=False)
    write_srt(tmp_path / "cooking show.srt", [(0.0, 3.0, "Let us start")])
    added = run_cli("add", str(video), check=True)
    assert "cooking show.mp4: added, 00:11, 3 frames, 1 text chunks" in added.stdout

    (entry,) = _listed(run_cli)
    assert {"id", "name", "duration_s", "frames", "text_chunks", "language"} <= entry.keys()
    assert (entry["name"], entry["frames"], entry["text_chunks"]) == ("cooking show.mp4", 3, 1)

    again = run_cli("add", str(tmp_path), check=True)  # the folder: the same video inside
    assert "already indexed, nothing changed" in again.stdout

    removed = run_cli("remove", entry["id"], check=True)
    assert f"{entry['id']}  cooking show.mp4: removed" in removed.stdout
    assert _listed(run_cli) == []
    assert "No videos yet" in run_cli("list", check=True).stdout


def test_bad_input_gets_one_line_each_and_loses_nothing(run_cli, tmp_path):
    """Every kind of bad file fails with its own one-line message; the library is unchanged."""
    good = make_video(tmp_path / "good.mp4", 6, audio=False)
    run_cli("add", str(good), check=True)
    before = _listed(run_cli)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "notes.mp4").write_text("shopping list: eggs, milk\n" * 100)
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(bad / "photo.mp4", format="PNG")
    whole = make_video(tmp_path / "whole.mp4", 20, extra=("-movflags", "+faststart")).read_bytes()
    (bad / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    (bad / "garbage.mkv").write_bytes(bytes(range(256)) * 400)
    result = run_cli("add", str(tmp_path / "missing.mp4"), *sorted(str(p) for p in bad.iterdir()))

    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 6, result.stderr
    expected = {
        "missing.mp4": "no such file",
        "empty.mp4": "the file is empty",
        "notes.mp4": "not a video or audio file",
        "photo.mp4": "is an image",
        "truncated.mp4": "truncated or damaged",
        "garbage.mkv": "not a video or audio file",
    }
    for name, message in expected.items():
        assert any(line.startswith("error: ") and name in line and message in line for line in errors), (name, errors)
    assert "Traceback" not in result.stderr
    assert _listed(run_cli) == before


@pytest.mark.parametrize("name", ["-starts-with-dash.mp4", "has spaces  twice.mp4", "ünïcødé 動画.mp4"])
def test_awkward_file_names(run_cli, tmp_path, name):
    video = make_video(tmp_path / "plain.mp4", 3, audio=False)
    awkward = tmp_path / name
    video.rename(awkward)
    result = run_cli("add", "--", str(awkward.name))  # a relative name, as typed
    assert result.returncode == 0, result.stderr
    assert [v["name"] for v in _listed(run_cli)] == [name]


def test_locked_database_says_what_to_do(run_cli, settings, tmp_path):
    """While another process (here: this test) holds Milvus Lite, the CLI explains and exits 1."""
    from rag.store import Store

    video = make_video(tmp_path / "clip.mp4", 3, audio=False)
    holder = Store(settings)
    try:
        result = run_cli("add", str(video))
    finally:
        holder.close()
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "in use by another process" in result.stderr and "VIDRAG_MILVUS_URI" in result.stderr


def test_verbose_shows_the_traceback(run_cli, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    quiet = run_cli("add", str(notes))
    loud = run_cli("--verbose", "remove", "nope")
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    assert loud.returncode == 1 and "no video with id nope" in loud.stderr


def test_unexpected_errors_are_one_line_too(run_cli, tmp_path):
    """A setting that is wrong is reported in one line, not as a pydantic traceback."""
    result = run_cli("list", env={"VIDRAG_FRAME_FPS": "fast"})
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0
    assert "VIDRAG_FRAME_FPS" in result.stderr or "frame_fps" in result.stderr
