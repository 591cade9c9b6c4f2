"""Faults found by hostile testing (issue 13): a file changing during ingest, the library's copy,
a full disk, media too short to index, files and folders that can't be read."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import make_video, write_srt
from ingest.pipeline import Ingestor, content_id, media_files
from ingest.storage import INCOMING, remove_stale_incoming
from rag.errors import IngestError, VidragError


def _clip(folder: Path, name: str = "clip.mp4", seconds: float = 6, **kwargs) -> Path:
    video = make_video(folder / name, seconds, audio=False, **kwargs)
    write_srt(video.with_suffix(".srt"), [(0.0, 2.0, "hello there")])
    return video


def _leftovers(settings) -> list[str]:
    """Every file under videos/ and frames/, relative to the data folder."""
    found = []
    for folder in (settings.videos_dir, settings.frames_dir):
        if folder.exists():
            found += [str(p.relative_to(settings.data_dir)) for p in folder.rglob("*")]
    return found


def test_a_file_overwritten_during_ingest_is_indexed_as_the_bytes_read(ingestor, tmp_path):
    """The original is overwritten in place half way: id, duration, frames and stored file all
    come from one version of the bytes (the copy taken first)."""
    original = _clip(tmp_path, "holiday.mp4", seconds=6)
    before = original.read_bytes()
    longer = make_video(tmp_path / "other.mp4", 16, audio=False, size="160x120")

    def overwrite(stage, done, total):
        if stage == "frames" and not overwrite.done:
            overwrite.done = True
            shutil.copyfile(longer, original)  # `cp other.mp4 holiday.mp4`: same inode, new bytes

    overwrite.done = False
    video = ingestor.add(original, progress=overwrite).video
    assert overwrite.done
    stored = Path(video.file)
    assert stored.read_bytes() == before and content_id(stored) == video.id
    assert video.duration_s == pytest.approx(6, abs=0.2) and video.frames == 2


def test_the_library_copy_never_shares_the_original_inode(ingestor, tmp_path):
    """Editing the original in place afterwards leaves the library's copy, and its id, intact."""
    original = _clip(tmp_path, "holiday.mp4")
    video = ingestor.add(original).video
    stored = Path(video.file)
    assert os.stat(stored).st_ino != os.stat(original).st_ino
    shutil.copyfile(make_video(tmp_path / "other.mp4", 3, audio=False), original)
    assert content_id(stored) == video.id


def test_a_killed_copy_is_removed_by_the_next_add(ingestor, tmp_path):
    """An incoming copy whose process is gone (kill -9 while copying) is deleted; a live one stays."""
    folder = ingestor.settings.videos_dir
    folder.mkdir(parents=True)
    from ingest.storage import _host_tag

    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = folder / f"{INCOMING}-{_host_tag()}-{dead.pid}-deadbeef.mp4"
    orphan.write_bytes(b"x" * 1000)
    live = folder / f"{INCOMING}-{_host_tag()}-{os.getpid()}-cafecafe.mp4"
    live.write_bytes(b"x")
    remove_stale_incoming(folder)
    assert not orphan.exists() and live.exists()


# --- a small disk: a real tmpfs, mounted when this runs as root --------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size in MB, and a way to grow it; skipped where mounting is not allowed."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = []

    def mount(size_mb: int) -> Path:
        options = f"size={size_mb}m" + (",remount" if mounted else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(size_mb)
        return mount_point

    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _ingestor_on(disk: Path, settings, **update) -> Ingestor:
    return Ingestor(settings.model_copy(update={"data_dir": disk / "data", **update}))


def test_too_little_space_is_refused_before_anything_is_written(settings, small_disk, tmp_path):
    """A copy that would leave less than VIDRAG_MIN_FREE_MB free is refused in one line."""
    disk = small_disk(8)
    ingestor = _ingestor_on(disk, settings, min_free_mb=7)
    try:
        video = _clip(tmp_path, "big.mp4", seconds=8, size="640x480", rate=25, extra=("-crf", "10"))
        assert 1 << 20 < video.stat().st_size < 4 << 20  # fits the disk, but not with 7 MB to spare
        with pytest.raises(IngestError, match=r"not enough free space for big\.mp4 in .*VIDRAG_MIN_FREE_MB") as e:
            ingestor.add(video)
        assert "\n" not in str(e.value)
        assert _leftovers(ingestor.settings) == [] and ingestor.store.list_videos() == []
    finally:
        ingestor.store.close()


def test_a_disk_that_fills_mid_ingest_is_one_line_and_cleaned_up(settings, small_disk, tmp_path):
    """The copy fits, the frames don't: one line naming the full disk, no .partial and no frames
    left, and once there is room the same add works."""
    disk = small_disk(6)
    ingestor = _ingestor_on(disk, settings, min_free_mb=0, frame_fps=5)
    try:
        video = _clip(tmp_path, "4k-ish.mp4", seconds=6, size="1280x720", rate=25, extra=("-crf", "10"))
        assert 3 << 20 < video.stat().st_size < 5 << 20
        with pytest.raises(IngestError, match="the disk holding .* is full") as e:
            ingestor.add(video)
        assert "\n" not in str(e.value) and str(disk) in str(e.value)
        assert _leftovers(ingestor.settings) == []
        assert ingestor.store.list_videos() == []
        assert shutil.disk_usage(disk).free > 5 << 20  # the files were freed

        small_disk(64)
        result = ingestor.add(video)
        assert result.status in ("added", "repaired") and result.video.frames > 20
        assert len(list((ingestor.settings.frames_dir / result.video.id).iterdir())) == result.video.frames
        assert [v.id for v in ingestor.store.list_videos()] == [result.video.id]
    finally:
        ingestor.store.close()


# --- media too short, and things that are not readable files ----------------------------------


def test_media_shorter_than_half_a_second_is_refused(ingestor, tmp_path):
    """A one-sample WAV would be an entry no search can find: refused, nothing stored."""
    import wave

    wav = tmp_path / "blip.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x10\x00")  # one sample
    with pytest.raises(IngestError, match=r"blip\.wav is 0\.00 s long: too short to index"):
        ingestor.add(wav)
    short = make_video(tmp_path / "flash.mp4", 0.3, audio=False)
    with pytest.raises(IngestError, match=r"flash\.mp4 is 0\.\d\d s long"):
        ingestor.add(short)
    assert ingestor.store.list_videos() == [] and _leftovers(ingestor.settings) == []


def test_a_fifo_or_device_is_not_a_regular_file(ingestor, tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(IngestError, match=r"pipe\.mp4: not a regular file \(it is a FIFO"):
        ingestor.add(fifo)
    with pytest.raises(IngestError, match=r"null: not a regular file \(it is a device\)"):
        ingestor.add("/dev/null")


@contextlib.contextmanager
def _unprivileged():
    """Run the block as `nobody` when this is root (root reads everything); as is otherwise."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def open_folder():
    """A folder every user may enter (tmp_path is root's alone when tests run as root)."""
    folder = Path(tempfile.mkdtemp(prefix="vidrag-perm-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):
            path.chmod(0o755)
    shutil.rmtree(folder)


def test_an_unreadable_folder_is_named(open_folder):
    readable = open_folder / "readable"
    locked = open_folder / "locked"
    readable.mkdir()
    locked.mkdir()
    (readable / "a.mp4").write_bytes(b"x")
    (locked / "b.mp4").write_bytes(b"x")
    locked.chmod(0o000)
    with _unprivileged():
        problems: list[str] = []
        assert [p.name for p in media_files(open_folder, problems)] == ["a.mp4"]
        assert problems == [f"{locked}: cannot read this folder (permission denied)"]
        with pytest.raises(IngestError, match="locked: cannot read this folder"):
            media_files(locked)
        from ingest.pipeline import check_readable

        with pytest.raises(IngestError, match="b.mp4: permission denied"):
            check_readable(locked / "b.mp4")


def test_a_data_folder_that_is_not_writable_is_named(settings, open_folder):
    data = open_folder / "data"
    data.mkdir(mode=0o555)
    data.chmod(0o555)
    with _unprivileged(), pytest.raises(VidragError, match=f"the data folder {data} is not writable"):
        Ingestor(settings.model_copy(update={"data_dir": data}))


def test_a_looping_error_chain_is_read_once(tmp_path):
    """An error re-raised from inside its own handling (as Ray's wrapped errors are) chains back
    to itself: looks_full must still answer, not loop."""
    from ingest.storage import looks_full

    first, second = RuntimeError("worker failed"), ValueError("No space left on device")
    first.__context__, second.__context__ = second, first
    assert looks_full(tmp_path, first) is True
    lone = RuntimeError("plain")
    lone.__context__ = lone
    assert looks_full(tmp_path, lone) is False  # the disk has room: not a full disk
