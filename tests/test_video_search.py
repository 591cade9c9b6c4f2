"""Video-level vectors and whole-video search: kept right through add, remove and re-add; a
video's re-encoded copy is the most similar; older libraries get their vectors on first use."""

import numpy as np
import pytest

from conftest import COOKING_CUES, GARDEN_CUES, ffmpeg, make_video, write_srt
from rag.store import IMAGE_COLLECTION, TEXT_COLLECTION, VIDEO_IMAGE_COLLECTION, VIDEO_TEXT_COLLECTION
from rag.store.videos import VideoIndex, mean_vector
from rag.videos.search import search_videos, similar_videos


@pytest.fixture
def three(ingestor, tmp_path):
    """cooking.mp4; its copy re-encoded smaller and at another quality, with the same subtitles;
    and garden.mp4, other pictures and other words. Summaries off."""
    ingestor.settings = ingestor.settings.model_copy(update={"summarize": "off"})
    cooking = make_video(tmp_path / "cooking.mp4", 45, audio=False, size="320x180", rate=5, gop=25)
    write_srt(tmp_path / "cooking.srt", COOKING_CUES)
    copy = tmp_path / "copy" / "cooking_small.mp4"
    copy.parent.mkdir()
    ffmpeg("-i", str(cooking), "-vf", "scale=224:126", "-c:v", "libx264", "-crf", "34", "-pix_fmt", "yuv420p",
           str(copy))
    write_srt(copy.with_suffix(".srt"), COOKING_CUES)
    garden = tmp_path / "garden.mp4"
    ffmpeg("-f", "lavfi", "-i", "smptehdbars=size=320x180:rate=5:duration=15", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(garden))
    write_srt(tmp_path / "garden.srt", GARDEN_CUES)
    return {p.name: ingestor.add(p).video for p in (cooking, copy, garden)}, [cooking, copy, garden]


def _stored_mean(store, collection, field, video_id):
    rows = store.client.query(collection, filter=f'video_id == "{video_id}"', output_fields=[field], limit=1000)
    return mean_vector([r[field] for r in rows])


def test_video_vectors_follow_add_remove_and_readd(ingestor, three):
    """Each video's vectors are the normalized means of its rows; gone on remove; back on re-add."""
    videos, paths = three
    store, index = ingestor.store, VideoIndex(ingestor.store)
    cooking = videos["cooking.mp4"]
    image, text = index.vector("image", cooking.id), index.vector("text", cooking.id)
    assert np.allclose(image, _stored_mean(store, IMAGE_COLLECTION, "vector", cooking.id), atol=1e-5)
    assert np.allclose(text, _stored_mean(store, TEXT_COLLECTION, "dense", cooking.id), atol=1e-5)
    assert abs(np.linalg.norm(image) - 1) < 1e-5 and abs(np.linalg.norm(text) - 1) < 1e-5
    ingestor.remove(cooking.id)
    assert index.vector("image", cooking.id) is None and index.vector("text", cooking.id) is None
    assert index.vector("image", videos["garden.mp4"].id) is not None  # the others keep theirs
    ingestor.add(paths[0])
    assert np.allclose(index.vector("image", cooking.id), image, atol=1e-5)
    assert np.allclose(index.vector("text", cooking.id), text, atol=1e-5)


def test_similar_and_query_search_on_a_library_built_before_video_vectors(ingestor, three):
    """An older library (no video-level collections) gets its vectors on first use; the re-encoded
    copy (same pictures, same words, other bytes) is the most similar video, both ways; a query
    ranks videos with their best moment."""
    import rag

    videos, _ = three
    store = ingestor.store
    for name in (VIDEO_IMAGE_COLLECTION, VIDEO_TEXT_COLLECTION):
        store.client.drop_collection(name)
        store._existing.discard(name)
    library = rag.Library(ingestor.settings, store=store)

    ranked = similar_videos(library, videos["cooking.mp4"].id)
    assert [r.video.name for r in ranked] == ["cooking_small.mp4", "garden.mp4"]
    assert ranked[0].score > ranked[1].score and set(ranked[0].similarity) == {"image", "text"}
    assert similar_videos(library, videos["cooking_small.mp4"].id)[0].video.name == "cooking.mp4"
    index = VideoIndex(store)
    assert all(index.vector(kind, v.id) is not None for v in videos.values() for kind in ("image", "text"))

    results = search_videos(library, "how long do I knead the dough", k=3)
    assert {r.video.name for r in results[:2]} == {"cooking.mp4", "cooking_small.mp4"}
    assert results[-1].video.name == "garden.mp4" and results[0].score > results[-1].score
    assert results[0].moment.start_s == 10.0 and "knead" in results[0].moment.text
    assert search_videos(library, "snails eat the lettuce in the garden", k=1)[0].video.name == "garden.mp4"
