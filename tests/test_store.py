"""The Milvus store on Milvus Lite in tmp_path: rows, the registry, model checks, the lock."""

import subprocess
import sys
import time

import numpy as np
import pytest

from rag.errors import ModelMismatchError, StoreLockedError
from rag.store import Store, chunk_to_row, info_to_video, row_segment_vectors, row_to_chunk, video_to_info
from rag.types import Chunk, Frame, Segment, Video


def test_chunk_row_round_trip_keeps_segment_times_and_vectors():
    chunk = Chunk(1.5, 9.0, "a b", (Segment(1.5, 4.0, "a"), Segment(4.0, 9.0, "b")))
    segment_vectors = np.array([[0.6, 0.8, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
    row = chunk_to_row("vid", 3, chunk, np.ones(4, dtype=np.float32), segment_vectors)
    assert row["id"] == "vid:t3" and row["video_id"] == "vid"
    assert row_to_chunk(row) == chunk
    assert np.allclose(row_segment_vectors(row), segment_vectors, atol=1e-3)  # float16 on the way


def test_long_text_fits_the_largest_varchar_a_milvus_server_takes():
    """A Milvus server refuses a VARCHAR over 65,535 bytes: the schemas stay inside it, and a
    chunk's text is cut to fit, never inside a character."""
    from pymilvus import DataType, MilvusClient

    from rag.store.schema import _image_schema, _keyed_json_schema, _text_schema

    for schema, _ in (_text_schema(MilvusClient, 4), _image_schema(MilvusClient, 2), _keyed_json_schema(MilvusClient)):
        lengths = [f.params["max_length"] for f in schema.fields if f.dtype == DataType.VARCHAR]
        assert lengths and max(lengths) <= 65535
    text = "é" + "😀" * 20000  # 2 + 80,000 bytes of UTF-8
    chunk = Chunk(0.0, 5.0, text, (Segment(0.0, 5.0, text),))
    stored = chunk_to_row("vid", 0, chunk, np.ones(4, dtype=np.float32), np.ones((1, 4), dtype=np.float32))["text"]
    assert 65535 - 4 < len(stored.encode("utf-8")) <= 65535 and text.startswith(stored)


def test_video_paths_are_stored_relative_to_the_data_dir(tmp_path):
    video = Video("abc", "talk.mp4", str(tmp_path / "videos" / "abc.mp4"), 12.5)
    info = video_to_info(video, tmp_path)
    assert info["file"] == "videos/abc.mp4"
    assert info_to_video(info, tmp_path / "moved").file == str(tmp_path / "moved" / "videos" / "abc.mp4")


def test_write_read_delete(settings):
    store = Store(settings)
    store.ensure_collection("text", "mini", 4)
    store.ensure_collection("image", "clip", 2)
    chunks = [Chunk(0, 5, "hello", (Segment(0, 5, "hello"),)), Chunk(5, 9, "world", (Segment(5, 9, "world"),))]
    store.insert_chunks("v1", chunks, np.eye(4, dtype=np.float32)[:2], [np.eye(4, dtype=np.float32)[2:3]] * 2)
    frame_path = settings.data_dir.resolve() / "frames" / "v1" / "000000.jpg"
    store.insert_frames("v1", [Frame(0.0, str(frame_path))], np.array([[1.0, 0.0]], dtype=np.float32))
    assert store.list_videos() == []  # written but not committed: invisible
    store.commit_video(Video("v1", "a.mp4", "", 9.0, frames=1, text_chunks=2))
    assert [v.id for v in store.list_videos()] == ["v1"]
    assert store.chunks("v1") == chunks
    assert store.frames("v1") == [Frame(0.0, str(frame_path))]
    assert store.count_rows("v1") == {"vidrag_text": 2, "vidrag_images": 1}
    store.delete_video("v1")
    assert store.list_videos() == [] and store.count_rows("v1") == {"vidrag_text": 0, "vidrag_images": 0}
    store.close()


def test_reopened_store_keeps_what_was_committed(settings):
    store = Store(settings)
    store.commit_video(Video("v2", "b.mp4", "", 3.0))
    store.close()
    again = Store(settings)
    assert [v.name for v in again.list_videos()] == ["b.mp4"]
    again.close()


def test_another_model_is_refused(settings):
    store = Store(settings)
    store.ensure_collection("text", "all-MiniLM-L6-v2", 384)
    store.ensure_collection("text", "ALL-minilm-l6-v2", 384)  # the same model, named differently
    with pytest.raises(ModelMismatchError, match="built with all-MiniLM-L6-v2 .dim 384. but VIDRAG_TEXT_MODEL"):
        store.ensure_collection("text", "bge-m3", 1024)
    with pytest.raises(ModelMismatchError):
        store.ensure_collection("text", "all-MiniLM-L6-v2", 768)
    store.close()


def test_database_held_by_another_process(settings, tmp_path):
    """A second process on the same Milvus Lite file gets a message saying what to do."""
    ready = tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import pathlib, time; from pymilvus import MilvusClient\n"
        f"client = MilvusClient({str(settings.milvus_target)!r})\n"
        f"pathlib.Path({str(ready)!r}).write_text('1'); time.sleep(120)"
    )])
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.time() + 60
        while not ready.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert ready.exists(), "the holding process did not open the database"
        with pytest.raises(StoreLockedError, match="in use by another process.*VIDRAG_MILVUS_URI"):
            Store(settings)
    finally:
        holder.kill()
        holder.wait()


def test_two_threads_creating_one_collection_both_succeed(settings):
    """Two adds at once (through Ray) both find a collection missing and create it: the second
    finds it made, instead of failing with Lite's "File exists"."""
    from concurrent.futures import ThreadPoolExecutor

    from rag.store.videos import VideoIndex

    store = Store(settings)
    try:
        index = VideoIndex(store)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: index.put_vectors(f"video{i}", {"image": [np.ones(4) / 2]}), range(4)))
        assert index.vector("image", "video3") is not None
    finally:
        store.close()
