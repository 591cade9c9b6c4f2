"""The ingest pipeline end to end: real media, real model code, Milvus Lite in tmp_path."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, ffmpeg, make_video, write_srt
from ingest.pipeline import Ingestor, media_files
from rag.errors import IngestError, ModelMismatchError

CUES = [(0.0, 4.0, "Welcome to the kitchen."), (4.0, 9.0, "Today we bake bread."),
        (9.0, 14.0, "First, mix flour and water."), (40.0, 44.0, "The loaf is done.")]


def _video_with_sidecar(folder, name="bread.mp4", seconds=46):
    video = make_video(folder / name, seconds, gop=50)
    write_srt(video.with_suffix(".en.srt"), CUES)
    return video


def test_add_indexes_frames_and_sidecar_transcript(ingestor, tmp_path):
    """Frames every 5 s and the sidecar's segments land in their collections; the video is listed."""
    video = _video_with_sidecar(tmp_path)
    stages = []
    result = ingestor.add(video, progress=lambda stage, done, total: stages.append(stage))
    assert result.status == "added" and result.warnings == []
    v = result.video
    assert (v.name, v.frames, v.language, v.transcript_source) == ("bread.mp4", 10, "en", "sidecar:bread.en.srt")
    assert v.duration_s == pytest.approx(46, abs=0.1)
    # No "speakers": subtitles have no word times, so the stage has nothing to hear (as "read" with OCR off).
    assert [s for s in dict.fromkeys(stages)] == ["probe", "frames", "transcript", "embeddings", "tags", "index"]
    assert v.speakers == 0

    store = ingestor.store
    assert [x.id for x in store.list_videos()] == [v.id]
    frames = store.frames(v.id)
    assert [round(f.timestamp_s) for f in frames] == list(range(0, 46, 5))
    assert all(os.path.isfile(f.path) for f in frames)
    chunks = store.chunks(v.id)
    assert v.text_chunks == len(chunks) == 2  # the 26 s silence splits the 30 s window
    assert [s.text for c in chunks for s in c.segments] == [text for _, _, text in CUES]
    assert chunks[1].start_s == 40.0
    assert os.path.isfile(v.file) and open(v.file, "rb").read() == video.read_bytes()


def test_same_bytes_under_another_name_change_nothing(ingestor, tmp_path):
    video = _video_with_sidecar(tmp_path, seconds=12)
    first = ingestor.add(video)
    copy = tmp_path / "renamed copy.mp4"
    copy.write_bytes(video.read_bytes())
    again = ingestor.add(copy)
    assert again.status == "exists" and again.video.id == first.video.id and again.video.name == "bread.mp4"
    assert len(ingestor.store.list_videos()) == 1
    assert ingestor.store.count_rows(first.video.id) == {"vidrag_text": 2, "vidrag_images": 3}


def test_remove_deletes_rows_frames_and_stored_file(ingestor, tmp_path):
    video = _video_with_sidecar(tmp_path, seconds=12)
    added = ingestor.add(video).video
    frames_dir = ingestor.settings.frames_dir / added.id
    assert frames_dir.is_dir()
    removed = ingestor.remove(added.id[:6])  # an unambiguous prefix is enough
    assert removed.id == added.id
    assert ingestor.store.list_videos() == []
    assert ingestor.store.count_rows(added.id) == {"vidrag_text": 0, "vidrag_images": 0}
    assert not frames_dir.exists() and not os.path.exists(added.file)
    assert video.exists()  # the user's own file is not ours to delete


def test_failure_after_text_rows_leaves_nothing_then_readd_completes(ingestor, tmp_path):
    """An error after the text rows are written takes them back; the next add starts clean."""
    video = _video_with_sidecar(tmp_path, seconds=12)

    def fail_after_text_rows(stage, done, total):
        if stage == "index" and done == 1:
            assert ingestor.store.count_rows(video_id)["vidrag_text"] == 2  # the rows really were written
            raise RuntimeError("disk full")

    from ingest.pipeline import content_id

    video_id = content_id(video)
    with pytest.raises(RuntimeError, match="disk full"):
        ingestor.add(video, progress=fail_after_text_rows)
    assert ingestor.store.list_videos() == []
    assert ingestor.store.count_rows(video_id) == {"vidrag_text": 0, "vidrag_images": 0}
    assert not (ingestor.settings.frames_dir / video_id).exists()
    result = ingestor.add(video)
    assert result.status == "added" and result.video.frames == 3


@pytest.mark.slow
def test_killed_ingest_is_cleaned_up_by_the_next_add(settings, tmp_path):
    """kill -9 after the text rows: nothing is visible, and the next add repairs and completes."""
    video = _video_with_sidecar(tmp_path, seconds=12)
    script = (
        "import os, sys\n"
        "from ingest.pipeline import Ingestor\nfrom rag.settings import Settings\n"
        "def die(stage, done, total):\n"
        "    if stage == 'index' and done == 2: os._exit(9)\n"
        f"Ingestor(Settings()).add({str(video)!r}, progress=die)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr

    ingestor = Ingestor(settings)
    from ingest.pipeline import content_id

    video_id = content_id(video)
    assert ingestor.store.list_videos() == []
    leftovers = ingestor.store.count_rows(video_id)
    assert (settings.frames_dir / video_id).is_dir()  # the dead process left its frames behind
    result = ingestor.add(video)
    assert result.status == "repaired"
    assert ingestor.store.count_rows(video_id) == {"vidrag_text": 2, "vidrag_images": 3}
    assert leftovers["vidrag_images"] in (0, 3)  # never doubled, whatever Lite had persisted
    ingestor.store.close()


def test_video_without_audio_indexes_frames_and_warns(ingestor, tmp_path):
    result = ingestor.add(make_video(tmp_path / "silent.mp4", 7, audio=False))
    assert result.video.frames == 2 and result.video.text_chunks == 0
    assert result.warnings == ["no audio stream: indexed the frames only"]


def test_audio_that_will_not_decode_indexes_frames_and_warns(ingestor, tmp_path):
    good = make_video(tmp_path / "good.mp4", 6)
    broken = tmp_path / "broken-audio.mkv"
    ffmpeg("-i", str(good), "-c", "copy", "-bsf:a", "noise=amount=1", str(broken))  # scramble every audio byte
    result = ingestor.add(broken)
    assert result.video.frames == 2 and result.video.text_chunks == 0
    assert result.warnings and "audio track will not decode" in result.warnings[0]


def test_whisper_transcribes_when_there_are_no_subtitles(ingestor, tmp_path):
    """No sidecar and no subtitle stream: Whisper (random weights here) runs on the decoded audio."""
    result = ingestor.add(make_video(tmp_path / "tone.mp4", 4))
    assert result.video.transcript_source == "whisper"
    assert result.video.language  # detected, whatever the random model hears
    assert result.video.text_chunks == len(ingestor.store.chunks(result.video.id))


def test_a_failing_whisper_is_one_error_and_leaves_nothing(ingestor, whisper_checkpoint, tmp_path):
    """A checkpoint whose decoder yields NaN (as an uninitialised one may) fails the add cleanly."""
    import torch

    checkpoint = torch.load(whisper_checkpoint)
    checkpoint["model_state_dict"]["decoder.positional_embedding"].fill_(float("nan"))
    broken = tmp_path / "broken.pt"
    torch.save(checkpoint, broken)
    failing = Ingestor(ingestor.settings.model_copy(update={"whisper_model": str(broken)}), store=ingestor.store)
    from ingest.pipeline import content_id

    video = make_video(tmp_path / "tone.mp4", 4)
    with pytest.raises(IngestError, match="Whisper failed"):
        failing.add(video)
    assert ingestor.store.list_videos() == []
    assert ingestor.store.count_rows(content_id(video)) == {"vidrag_text": 0, "vidrag_images": 0}


@pytest.mark.slow
def test_real_clip_and_audio_only_file(ingestor, shared_media, tmp_path):
    """Big Buck Bunny gives 6 frames at about 0, 5, ..., 25 s; jfk.flac is audio-only."""
    clip = tmp_path / "bbb.webm"
    clip.symlink_to(shared_media / "big_buck_bunny_0_30.webm")
    write_srt(tmp_path / "bbb.srt", [(1.0, 4.0, "A big rabbit wakes up.")])
    video = ingestor.add(clip).video
    assert video.frames == 6 and video.duration_s == pytest.approx(30, abs=0.1)
    assert [round(f.timestamp_s / 5) * 5 for f in ingestor.store.frames(video.id)] == [0, 5, 10, 15, 20, 25]

    audio = ingestor.add(shared_media / "jfk.flac").video
    assert audio.has_video is False and audio.frames == 0
    assert audio.transcript_source == "whisper" and audio.duration_s == pytest.approx(11, abs=0.1)
    assert ingestor.store.frames(audio.id) == []


def test_other_clip_model_is_refused_and_nothing_changes(settings, ingestor, tmp_path, monkeypatch):
    import json

    import open_clip
    import torch

    from conftest import TINY_CLIP_CONFIG

    first = ingestor.add(_video_with_sidecar(tmp_path, seconds=6)).video
    other = tmp_path / "other-clip"
    other.mkdir()
    config = json.loads(json.dumps(TINY_CLIP_CONFIG))
    config["model_cfg"]["embed_dim"] = 16
    (other / "open_clip_config.json").write_text(json.dumps(config))
    torch.save(open_clip.CLIP(**config["model_cfg"]).state_dict(), other / "open_clip_pytorch_model.bin")
    changed = Ingestor(settings.model_copy(update={"clip_model": f"local-dir:{other}"}), store=ingestor.store)
    with pytest.raises(ModelMismatchError, match="image index was built with"):
        changed.add(make_video(tmp_path / "new.mp4", 6, audio=False))
    assert [v.id for v in ingestor.store.list_videos()] == [first.id]


def test_bad_files_raise_clear_errors(ingestor, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty.mp4: the file is empty"):
        ingestor.add(empty)
    with pytest.raises(IngestError, match="no such file"):
        ingestor.add(tmp_path / "missing.mp4")


def test_media_files_in_a_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["a.mp4", "b.MKV", "notes.txt", "c.srt", "sub/d.flac"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in media_files(tmp_path)] == ["a.mp4", "b.MKV", "d.flac"]
