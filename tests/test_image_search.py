"""Search by image, "more like this", and zero-shot tags, on random-weight CLIP: plumbing only
(which frame is nearest a copy of itself; tags cached, stored and filtered), never meaning."""

import numpy as np
import pytest

from conftest import make_video
from rag.errors import VidragError


@pytest.fixture
def indexed(settings, monkeypatch, tmp_path):
    """A 30 s clip of varied pictures (frames every 5 s), tagged against a 4-label vocabulary."""
    from ingest.pipeline import Ingestor
    from rag import Library
    from rag.settings import Settings

    (tmp_path / "tags.txt").write_text("# test vocabulary\ndog\nbeach\nkitchen\nmountain\n")
    monkeypatch.setenv("VIDRAG_TAGS_FILE", str(tmp_path / "tags.txt"))
    monkeypatch.setenv("VIDRAG_DESCRIBE", "off")
    ingestor = Ingestor(Settings())
    video = make_video(tmp_path / "fractal.mp4", 30, audio=False, size="160x120", rate=5, gop=5,
                       extra=("-vf", "hue=h=t*40:s=1+sin(t)"))
    added = ingestor.add(video).video
    library = Library(ingestor.settings, store=ingestor.store)
    yield library, added
    library.close()


def test_a_resized_png_of_a_frame_finds_that_frames_moment_first(indexed, tmp_path):
    from PIL import Image

    library, video = indexed
    frame = library.store.frames(video.id)[3]
    query = tmp_path / "query.png"
    with Image.open(frame.path) as image:  # re-encoded, half the size
        image.resize((image.width // 2, image.height // 2)).save(query)
    moments = library.searcher.search("", image=query, k=3)
    assert moments[0].frame.timestamp_s == pytest.approx(frame.timestamp_s)
    assert moments[0].start_s <= frame.timestamp_s < moments[0].end_s and "image" in moments[0].signals
    both = library.searcher.search("anything", image=query, k=3)  # text and image fused
    assert any("image" in m.signals for m in both)


def test_similar_leaves_out_the_moment_itself(indexed):
    from rag.retrieval.image_search import similar

    library, video = indexed
    frame = library.store.frames(video.id)[3]
    moments = similar(library.searcher, video.id, frame.timestamp_s + 0.5, k=3)
    assert len(moments) == 3
    assert all(not (m.start_s <= frame.timestamp_s < m.end_s) and m.frame.path != frame.path for m in moments)
    with pytest.raises(VidragError, match="outside"):
        similar(library.searcher, video.id, 999.0)


def test_bad_query_images_get_one_line_errors(tmp_path):
    from PIL import Image

    from rag.retrieval.image_search import check_query_image

    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (4, 4)).save(tmp_path / "anim.gif")
    cases = {"notes.png": "not a JPEG, PNG or WebP", "empty.jpg": "empty", "anim.gif": "use JPEG, PNG or WebP",
             "missing.png": "no such image"}
    for name, expected in cases.items():
        with pytest.raises(VidragError, match=expected) as error:
            check_query_image(tmp_path / name)
        assert "\n" not in str(error.value)
    Image.new("RGB", (3, 2)).save(tmp_path / "tiny.webp")
    assert check_query_image(tmp_path / "tiny.webp") == tmp_path / "tiny.webp"


def test_tags_are_cached_stored_and_filter_search(indexed):
    from ingest.stages.tags import tag_vectors
    from rag.retrieval.tags import frames_with_tag, search_with_tag

    library, video = indexed
    settings = library.settings
    caches = list((settings.data_dir / "cache").glob("tags-*.npy"))
    assert len(caches) == 1  # computed once for this model and vocabulary
    frames = library.store.frames(video.id)
    assert len(video.frame_tags) == len(frames)
    # With 4 labels the most probable one always holds at least 25% of the mass: never empty.
    assert all(1 <= len(tags) <= 3 and set(tags) <= {"dog", "beach", "kitchen", "mountain"}
               for tags in video.frame_tags)
    assert video.tags and abs(video.tags[0]["share"] - max(
        sum(t["tag"] in tags for tags in video.frame_tags) / len(frames) for t in video.tags)) < 1e-3

    from rag.models import load_clip_embedder

    clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, "cpu")
    labels, vectors = tag_vectors(settings, clip)
    assert labels == ["dog", "beach", "kitchen", "mountain"]
    assert np.allclose(np.load(caches[0]), vectors)

    tag = video.tags[-1]["tag"]
    tagged_times = [frames[n].timestamp_s for n in frames_with_tag(video, tag)]
    moments = search_with_tag(library.searcher, "", tag, k=5, image=frames[0].path)
    assert moments
    assert all(any(m.start_s - 2.5 <= t <= m.end_s + 2.5 for t in tagged_times) for m in moments)
    assert search_with_tag(library.searcher, "", "volcano", image=frames[0].path) == []
