"""Probing: streams, duration, start, rotation; non-media rejected with a clear message."""

import pytest

from conftest import ffmpeg, make_video
from ingest.probe import parse_framecrc, parse_report, probe
from rag.errors import IngestError

REPORT = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:clip.mp4':
  Duration: 00:01:02.50, start: 0.041000, bitrate: 242 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 320x240, 10 fps (default)
      Side data:
        Display Matrix: rotation of -90.00 degrees
  Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp (default)
  Stream #0:2[0x3](eng): Subtitle: mov_text (tx3g / 0x67337874), 0 kb/s (default)
  Stream #0:3: Video: mjpeg (Baseline), yuvj420p, 64x64 (attached pic)
"""


def test_parse_report_reads_streams_duration_start_rotation():
    info = parse_report("clip.mp4", REPORT)
    assert info.duration_s == pytest.approx(62.5)
    assert info.start_s == pytest.approx(0.041)
    assert info.rotation == -90
    assert [(s.index, s.kind, s.codec) for s in info.streams] == [
        (0, "video", "h264"), (1, "audio", "aac"), (2, "subtitle", "mov_text"), (3, "video", "mjpeg")
    ]
    assert info.video.index == 0 and info.audio.index == 1
    assert [s.index for s in info.text_subtitles] == [2]


def test_parse_report_without_input_is_none():
    assert parse_report("x", "file:x: Invalid data found when processing input\n") is None


def test_parse_framecrc_flags_keyframes_and_missing_pts():
    text = "#tb 0: 1/12288\n0, 0, 0, 512, 100, 0x1\n0, 512, 1024, 512, 50, 0x2, F=0x0\n" \
           "0, 1024, -9223372036854775808, 512, 50, 0x3, F=0x0, S=1, MPEGTS Stream ID, 1, 0xe0\n"
    time_base, packets = parse_framecrc(text)
    assert time_base.denominator == 12288
    assert [p.key for p in packets] == [True, False, False]
    assert packets[1].pts == 1024 and packets[2].has_pts is False


def test_cover_art_is_not_a_video(tmp_path):
    """An MP3 with embedded cover art is audio-only."""
    art = tmp_path / "art.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=3", "-f", "lavfi", "-i", "color=red:size=64x64:duration=1",
           "-map", "0", "-map", "1", "-frames:v", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg",
           "-disposition:v", "attached_pic", str(art))
    info = probe(str(art))
    assert info.video is None and info.audio is not None


def test_video_without_audio(tmp_path):
    info = probe(str(make_video(tmp_path / "silent.mp4", 3, audio=False)))
    assert info.video is not None and info.audio is None
    assert info.duration_s == pytest.approx(3, abs=0.1)


@pytest.mark.parametrize("content,expected", [
    (b"just some text, not a video\n" * 50, "not a video or audio file"),
])
def test_text_named_mp4_is_rejected(tmp_path, content, expected):
    fake = tmp_path / "notes.mp4"
    fake.write_bytes(content)
    with pytest.raises(IngestError, match=expected):
        probe(str(fake))


def test_image_named_mp4_is_rejected(tmp_path):
    from PIL import Image

    fake = tmp_path / "photo.mp4"
    Image.new("RGB", (64, 48), "blue").save(fake, format="PNG")
    with pytest.raises(IngestError, match="is an image"):
        probe(str(fake))
