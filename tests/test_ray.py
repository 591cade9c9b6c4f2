"""Ingest over a real local Ray (issue 23): `vidrag add --ray local` starts Ray on 127.0.0.1 with
two workers, and the library it builds equals the one in-process ingest builds; a bad file fails
alone, with the same line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REAL_WHISPER, cli_runner, make_video, write_srt

pytestmark = pytest.mark.slow

CUES = [(1.0, 4.5, "The lighthouse keeper climbs the stairs."), (5.0, 9.0, "A storm is coming in from the sea.")]


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_env, espeak):
    pytest.importorskip("ray", reason="Ray is not installed (requirements-ray.txt; make test installs it)")
    if not REAL_WHISPER.is_file():
        pytest.skip(f"the real Whisper tiny.en is not at {REAL_WHISPER}")
    from bench.speech import say, write_media

    source = tmp_path_factory.mktemp("ray-sources")
    clip = make_video(source / "lighthouse.mp4", 10, audio=False, size="160x120", rate=5)
    write_srt(source / "lighthouse.srt", CUES)
    speech = np.concatenate([np.zeros(16000, np.float32), say("The museum opens at nine on weekdays."),
                             np.zeros(16000, np.float32)])
    talk = write_media(speech, source / "talk.mp4", video=True)
    audio = write_media(say("Children under twelve get in for free."), source / "free.m4a")
    bad = source / "notes.mp4"
    bad.write_text("not a video\n")
    files = [str(p) for p in (clip, talk, audio, bad)]
    env = {**model_env, "VIDRAG_WHISPER_MODEL": str(REAL_WHISPER), "VIDRAG_WHISPER_LANGUAGE": "en",
           "VIDRAG_DESCRIBE": "off", "VIDRAG_SUMMARIZE": "off", "RAY_AUTH_MODE": "disabled"}
    runs = {}
    for how, extra in (("here", []), ("ray", ["--ray", "local"])):
        folder = tmp_path_factory.mktemp(f"library-{how}")
        run = cli_runner(folder, env)
        result = run("add", *extra, *files)
        runs[how] = (folder, run, result)
    return runs


def _listed(run) -> list[dict]:
    videos = json.loads(run("list", "--json", check=True).stdout)
    for video in videos:
        video.pop("created")
        video.pop("file")
    return sorted(videos, key=lambda v: v["id"])


def test_a_library_built_through_ray_equals_one_built_here(built):
    (_, here, _), (_, ray, _) = built["here"], built["ray"]
    listed = _listed(here)
    assert len(listed) == 3 and listed == _listed(ray)  # ids, durations, frames, chunks, speakers...
    for video in listed:
        transcript = [video["id"], "--format", "json"]
        assert here("transcript", *transcript, check=True).stdout == ray("transcript", *transcript, check=True).stdout
    assert {v["name"]: v["transcript_source"] for v in listed}["lighthouse.mp4"] == "sidecar:lighthouse.srt"


def test_vectors_are_equal_within_float_tolerance(built, model_env, monkeypatch):
    from rag.settings import Settings
    from rag.store import Store

    def vectors(folder):
        store = Store(Settings(_env_file=None, data_dir=folder / "data"))
        try:
            rows = store.client.query("vidrag_text", filter='id != ""', output_fields=["id", "dense"], limit=1000)
            frames = store.client.query("vidrag_images", filter='id != ""', output_fields=["id", "vector"], limit=1000)
        finally:
            store.close()
        return ({r["id"]: np.asarray(r["dense"]) for r in rows}, {r["id"]: np.asarray(r["vector"]) for r in frames})

    (text_here, frames_here), (text_ray, frames_ray) = vectors(built["here"][0]), vectors(built["ray"][0])
    assert text_here and frames_here
    assert text_here.keys() == text_ray.keys() and frames_here.keys() == frames_ray.keys()
    assert all(np.allclose(text_here[k], text_ray[k], atol=1e-5) for k in text_here)
    assert all(np.allclose(frames_here[k], frames_ray[k], atol=1e-5) for k in frames_here)


def test_a_bad_file_fails_alone_with_the_same_line(built):
    (_, _, here), (_, _, ray) = built["here"], built["ray"]
    assert here.returncode == ray.returncode == 1
    line = [x for x in here.stderr.splitlines() if x.startswith("error:")]
    assert line == [x for x in ray.stderr.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and line[0].startswith("error: notes.mp4 is not a video or audio file")
    assert "Traceback" not in ray.stderr
    assert ray.stdout.count(": added,") == 3
