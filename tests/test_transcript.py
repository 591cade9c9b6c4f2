"""`vidrag transcript ID --format text|json|srt|webvtt`, and the files it writes: valid (ffmpeg
reads them back), with cue text escaped, and the commands a user runs, from `/`."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from conftest import VIDRAG, make_video, write_srt
from rag.types import Segment
from rag.videos.captions import WORD_JOINER, to_json, to_srt, to_text, to_webvtt

HOSTILE = [
    Segment(0.0, 2.0, "x < y & <b>bold</b> {\\an8} --> w"),
    Segment(3.0, 3.1, "line one\n\nline two <i>\x1b[31m"),  # a blank line, a tag, an escape
    Segment(5.0, 6.0, "   "),  # nothing to show: no cue
]


def _ffmpeg_dialogue(path) -> list[str]:
    """The cue texts ffmpeg's own subtitle decoders read from the file (as ASS dialogue)."""
    from rag.ffmpeg import ffmpeg_exe

    out = subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "ass", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.split(",", 9)[9] for line in out.splitlines() if line.startswith("Dialogue:")]


@pytest.mark.parametrize("writer, suffix", [(to_srt, ".srt"), (to_webvtt, ".vtt")])
def test_srt_and_webvtt_files_read_back_as_the_words_said(writer, suffix, tmp_path):
    """ffmpeg parses each file into one cue per spoken segment, and what it shows is the text,
    flattened to one line: no tag, override or escape of ours or of the speaker's takes effect."""
    path = tmp_path / f"t{suffix}"
    path.write_text(writer(HOSTILE), encoding="utf-8")
    shown = [text.replace(WORD_JOINER, "") for text in _ffmpeg_dialogue(path)]
    if suffix == ".vtt":  # ffmpeg's ASS writer escapes a brace that would start an override
        shown = [text.replace("\\{{}", "{") for text in shown]
    assert shown == ["x < y & <b>bold</b> {\\an8} --> w", "line one line two <i>[31m"]


def test_cue_times_and_numbering():
    srt = to_srt(HOSTILE)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:02,000\n") and "\n2\n00:00:03,000 --> 00:00:03,500\n" in srt
    vtt = to_webvtt(HOSTILE)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n") and "&lt;b&gt;" in vtt


def test_json_and_text_keep_the_words():
    rows = json.loads(to_json(HOSTILE))
    assert rows[0] == {"start_s": 0.0, "end_s": 2.0, "text": HOSTILE[0].text} and len(rows) == 3
    assert to_text(HOSTILE).splitlines()[0] == "[00:00] x < y & <b>bold</b> {\\an8} --> w"


CUES = [(0.0, 3.5, "We start with the garden hose."), (4.0, 8.0, "Then the tomatoes & <peppers>.")]


@pytest.mark.slow
def test_add_list_search_and_transcript_from_the_root_folder(tmp_path, model_env):
    """The installed command, from `/`, with no PYTHONPATH: add, list --json, search, and the
    transcript in every format; an unknown id is one line and exit 1."""
    video = make_video(tmp_path / "garden.mp4", 9, audio=False, size="160x120", rate=5)
    write_srt(video.with_suffix(".srt"), CUES)
    env = {**os.environ, **model_env, "VIDRAG_DATA_DIR": str(tmp_path / "data"), "VIDRAG_DESCRIBE": "off",
           "VIDRAG_SUMMARIZE": "off"}
    env.pop("PYTHONPATH", None)

    def vidrag(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([VIDRAG, *args], cwd="/", env=env, capture_output=True, text=True, timeout=600)

    added = vidrag("add", str(video))
    assert added.returncode == 0, added.stderr
    listed = json.loads(vidrag("list", "--json").stdout)
    video_id = listed[0]["id"]
    assert [v["name"] for v in listed] == ["garden.mp4"] and listed[0]["text_chunks"] >= 1
    found = vidrag("search", "garden hose")
    assert found.returncode == 0 and "garden.mp4 [00:00-00:03]" in found.stdout

    assert json.loads(vidrag("transcript", video_id, "--format", "json").stdout) == [
        {"start_s": 0.0, "end_s": 3.5, "text": CUES[0][2]}, {"start_s": 4.0, "end_s": 8.0, "text": CUES[1][2]}]
    text = vidrag("transcript", video_id[:6]).stdout  # an unambiguous start of the id will do
    assert text == f"[00:00] {CUES[0][2]}\n[00:04] {CUES[1][2]}\n"
    for form, suffix in (("srt", ".srt"), ("webvtt", ".vtt")):
        result = vidrag("transcript", video_id, "--format", form)
        assert result.returncode == 0
        (tmp_path / f"out{suffix}").write_text(result.stdout, encoding="utf-8")
        shown = [t.replace(WORD_JOINER, "") for t in _ffmpeg_dialogue(tmp_path / f"out{suffix}")]
        assert shown == [c[2] for c in CUES]

    missing = vidrag("transcript", "nope")
    assert missing.returncode == 1 and missing.stdout == ""
    assert re.fullmatch(r"error: [^\n]*nope[^\n]*\n", missing.stderr)
