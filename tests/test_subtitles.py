"""Existing transcripts: sidecar files of several formats, and subtitle streams in the file."""

import pytest

from conftest import ffmpeg, make_video, write_srt
from ingest.probe import probe
from ingest.subtitles import find_sidecar, parse_srt, read_embedded, read_sidecar


def test_parse_srt_strips_markup_and_joins_lines():
    text = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> there,\nfriend &amp; co\n\n" \
           "2\n00:01:00,000 --> 00:01:03,000\n{\\an8}Top line\n\n3\n00:02:00,000 --> 00:02:01,000\n\n"
    segments = parse_srt(text)
    assert [(s.start_s, s.end_s, s.text) for s in segments] == [
        (1.0, 2.5, "Hello there, friend & co"), (60.0, 63.0, "Top line")
    ]


@pytest.mark.parametrize("names,expected", [
    (["talk.srt"], "talk.srt"),
    (["talk.vtt"], "talk.vtt"),
    (["talk.en.srt"], "talk.en.srt"),
    (["talk.en.srt", "talk.srt"], "talk.srt"),
    (["talk.srt", "talk.vtt"], "talk.srt"),
    (["talks.srt", "talk.notes.srt", "other.srt"], None),
])
def test_find_sidecar(tmp_path, names, expected):
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"x")
    for name in names:
        (tmp_path / name).write_text("")
    found = find_sidecar(video)
    assert (found.name if found else None) == expected


def test_read_vtt_sidecar_with_language(tmp_path):
    """A WebVTT file named talk.de.vtt gives German segments at their cue times."""
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"x")
    sidecar = tmp_path / "talk.de.vtt"
    sidecar.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nGuten Tag\n\n00:00:05.500 --> 00:00:07.000\nWie geht's?\n"
    )
    transcript = read_sidecar(video, sidecar)
    assert transcript.language == "de"
    assert transcript.source == "sidecar:talk.de.vtt"
    assert [(s.start_s, s.end_s, s.text) for s in transcript.segments] == [
        (1.0, 4.0, "Guten Tag"), (5.5, 7.0, "Wie geht's?")
    ]


def test_embedded_subtitle_stream(tmp_path):
    srt = write_srt(tmp_path / "s.srt", [(0.5, 2.0, "hello inside"), (3.0, 4.0, "second cue")])
    plain = make_video(tmp_path / "plain.mp4", 5)
    muxed = tmp_path / "muxed.mp4"
    ffmpeg("-i", str(plain), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text", str(muxed))
    transcript = read_embedded(probe(str(muxed)))
    assert transcript.source == "embedded"
    assert [s.text for s in transcript.segments] == ["hello inside", "second cue"]
    assert transcript.segments[0].start_s == pytest.approx(0.5)


@pytest.mark.parametrize("suffix", [".srt", ".vtt"])
def test_cue_text_survives_as_written_and_only_markup_goes(tmp_path, suffix):
    """`a < b --> c` is text, not a tag (ffmpeg's SRT decoder made it `a c`); real tags go."""
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"x")
    header = "WEBVTT\n\n" if suffix == ".vtt" else "1\n"
    comma = "." if suffix == ".vtt" else ","
    sidecar = tmp_path / f"talk{suffix}"
    sidecar.write_text(
        f"{header}00:00:01{comma}000 --> 00:00:03{comma}000\na < b --> c\n\n"
        f"00:00:04{comma}000 --> 00:00:06{comma}000\n"
        "<i>so</i> x<y and 3 > 2 <font color=\"red\">ok</font> {\\an8}top\n",
        encoding="utf-8",
    )
    texts = [s.text for s in read_sidecar(video, sidecar).segments]
    assert texts == ["a < b --> c", "so x<y and 3 > 2 ok top"]


def test_webvtt_markup_and_short_clock(tmp_path):
    """WebVTT voice and class tags, inline timestamps and entities; times without hours."""
    segments = parse_srt("WEBVTT\n\nNOTE a comment\n\ncue-1\n01:02.500 --> 01:04.000 align:start\n"
                         "<v Bob>Hi <c.loud>there</c> <00:01:03.000>&lt;3</v>\n")
    assert [(s.start_s, s.end_s, s.text) for s in segments] == [(62.5, 64.0, "Hi there <3")]


def test_embedded_srt_stream_keeps_its_text(tmp_path):
    srt = write_srt(tmp_path / "s.srt", [(0.5, 2.0, "a < b --> c")])
    plain = make_video(tmp_path / "plain.mp4", 3, audio=False)
    muxed = tmp_path / "muxed.mkv"
    ffmpeg("-i", str(plain), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", str(muxed))
    assert [s.text for s in read_embedded(probe(str(muxed))).segments] == ["a < b --> c"]


def test_embedded_subtitles_that_start_late_keep_the_video_clock(tmp_path):
    """A subtitle stream offset by 5 s, in a file whose timestamps start at 10 s: cues are timed
    from the media's start, as frames are (checked for issue 13 item 4; ffmpeg already does it)."""
    srt = write_srt(tmp_path / "s.srt", [(0.5, 2.0, "hello inside"), (3.0, 4.0, "second cue")])
    muxed = tmp_path / "late.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5:duration=12", "-itsoffset", "5", "-i", str(srt),
           "-c:v", "libx264", "-c:s", "srt", "-output_ts_offset", "10", str(muxed))
    info = probe(str(muxed))
    assert info.start_s == pytest.approx(10.0)
    transcript = read_embedded(info)
    assert [(s.start_s, s.end_s) for s in transcript.segments] == [pytest.approx((5.5, 7.0)), pytest.approx((8.0, 9.0))]
