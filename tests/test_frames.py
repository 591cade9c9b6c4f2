"""Frame sampling: one frame per interval from 0 s, true timestamps, sparse decoding."""

from fractions import Fraction

import pytest
from PIL import Image

from conftest import make_video
from ingest.probe import Packet, probe
from ingest.stages.frames import KEYFRAME_SNAP_S, choose_frames, extract_frames, grid_times


def test_grid_starts_at_zero_and_stops_before_the_end():
    """A 30 s video at 0.2 fps gets 0, 5, ..., 25; a 3 s one still gets a frame at 0."""
    assert grid_times(30.0, 0.2) == [0, 5, 10, 15, 20, 25]
    assert grid_times(30.01, 0.2) == [0, 5, 10, 15, 20, 25, 30]
    assert grid_times(3.0, 0.2) == [0]
    assert grid_times(0.0, 0.2) == [0]
    assert grid_times(2.0, 1.0) == [0, 1]


def _packets(count, key_every, fps=10):
    # Intra-only decode order with pts == dts, in a 1/fps time base.
    return [Packet(dts=i, pts=i, duration=1, key=i % key_every == 0) for i in range(count)]


def test_choose_snaps_to_a_nearby_keyframe_and_decodes_exactly_otherwise():
    """Keyframes within the snap distance are taken as they are; far ones are not used."""
    packets = _packets(200, key_every=10)  # 20 s, a keyframe every second
    picks = choose_frames(packets, Fraction(1, 10), 0.0, 0.2)
    assert [p.packet for p in picks] == [0, 50, 100, 150]
    assert all(p.decode_from == p.packet for p in picks)  # every one is a keyframe

    sparse = _packets(200, key_every=100)  # a keyframe every 10 s
    picks = choose_frames(sparse, Fraction(1, 10), 0.0, 0.2)
    assert [p.packet for p in picks] == [0, 50, 100, 150]
    assert [p.decode_from for p in picks] == [0, 0, 100, 100]  # exact frames decode from their keyframe


def test_choose_reads_presentation_order_not_decode_order():
    """With B-frames, decode order differs from presentation order; picks follow presentation."""
    # decode order I0 P3 B1 B2 P6 B4 B5 ... in a 1/1 time base, one keyframe only.
    order = [0]
    for base in range(1, 30, 3):
        order += [base + 2, base, base + 1]
    packets = [Packet(dts=i - 1, pts=pts, duration=1, key=pts == 0) for i, pts in enumerate(order)]
    picks = choose_frames(packets, Fraction(1, 1), 0.0, 0.2, duration_s=30)
    assert [p.pts for p in picks] == [0, 5, 10, 15, 20, 25]
    for pick in picks:
        assert packets[pick.packet].pts == pick.pts
        assert pick.decode_from == 0


def test_extract_counts_and_timestamps(tmp_path):
    """A 23 s clip gives frames at 0, 5, 10, 15, 20 s, each a JPEG at its true time."""
    video = make_video(tmp_path / "clip.mp4", 23, gop=50)  # a keyframe every 5 s at 10 fps
    frames = extract_frames(probe(str(video)), tmp_path / "frames", 0.2)
    assert [f.timestamp_s for f in frames] == pytest.approx([0, 5, 10, 15, 20], abs=0.051)
    for frame in frames:
        with Image.open(frame.path) as image:
            assert image.format == "JPEG" and image.size == (320, 240)


def test_extract_exact_frames_between_sparse_keyframes(tmp_path):
    """With keyframes 12 s apart, the frames at 5 and 15 s are decoded exactly, not snapped."""
    video = make_video(tmp_path / "sparse.mp4", 20, gop=120, rate=10, extra=("-bf", "2"))
    frames = extract_frames(probe(str(video)), tmp_path / "frames", 0.2)
    assert [f.timestamp_s for f in frames] == pytest.approx([0, 5, 10, 15], abs=0.051)


def test_extract_short_video_gets_one_frame(tmp_path):
    video = make_video(tmp_path / "short.mp4", 2)
    frames = extract_frames(probe(str(video)), tmp_path / "frames", 0.2)
    assert [f.timestamp_s for f in frames] == [0.0]


def test_extract_without_container_duration(tmp_path):
    """A WebM written to a pipe has no duration; the packets still give every frame."""
    from conftest import ffmpeg

    path = tmp_path / "streamed.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=12", "-c:v", "libvpx", "-f", "webm",
           "-live", "1", str(path))
    info = probe(str(path))
    assert info.duration_s is None
    frames = extract_frames(info, tmp_path / "frames", 0.2)
    assert [f.timestamp_s for f in frames] == pytest.approx([0, 5, 10], abs=KEYFRAME_SNAP_S)


def test_extract_applies_rotation(tmp_path):
    """A phone video stored landscape with a 90° display matrix gives portrait frames."""
    from conftest import ffmpeg

    plain = make_video(tmp_path / "plain.mp4", 6, audio=False)
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation:v:0", "90", "-i", str(plain), "-c", "copy", str(rotated))
    info = probe(str(rotated))
    assert abs(info.rotation) == 90
    frames = extract_frames(info, tmp_path / "frames", 0.2)
    with Image.open(frames[0].path) as image:
        assert image.size == (240, 320)


def test_extract_downscales_large_frames(tmp_path):
    video = make_video(tmp_path / "big.mp4", 1, size="1920x1080", audio=False)
    frames = extract_frames(probe(str(video)), tmp_path / "frames", 0.2)
    with Image.open(frames[0].path) as image:
        assert image.size == (1280, 720)


def test_real_clip_six_frames(shared_media, tmp_path):
    """Big Buck Bunny's first 30 s (VP8, irregular keyframes) gives 6 frames near 0, 5, ..., 25 s."""
    info = probe(str(shared_media / "big_buck_bunny_0_30.webm"))
    frames = extract_frames(info, tmp_path / "frames", 0.2)
    assert len(frames) == 6
    for frame, grid in zip(frames, [0, 5, 10, 15, 20, 25], strict=True):
        assert abs(frame.timestamp_s - grid) <= KEYFRAME_SNAP_S


def test_raw_stream_without_timestamps(tmp_path):
    """A bare H.264 stream has no timestamps to plan with: it is decoded whole, one frame per interval."""
    from conftest import ffmpeg

    raw = tmp_path / "camera.h264"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=12", "-c:v", "libx264", "-f", "h264", str(raw))
    frames = extract_frames(probe(str(raw)), tmp_path / "frames", 0.2)
    assert [f.timestamp_s for f in frames] == pytest.approx([0, 5, 10], abs=0.11)
