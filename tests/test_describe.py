"""Frame descriptions at ingest and by backfill, against the loopback OpenAI stub: found by
search, shown as "seen", faults that never fail an ingest, idempotent backfill, old libraries."""

import pytest

from conftest import COOKING_CUES, make_video, text_schema_of_old, write_srt
from openai_stub import StubVLM, frame_word, refused_url
from rag.clock import format_clock
from rag.settings import Settings


@pytest.fixture
def cooking(tmp_path):
    """20 s of test pattern (frames at 0, 5, 10, 15 s) with the cooking subtitles."""
    video = make_video(tmp_path / "cooking.mp4", 20, audio=False, size="160x120", rate=5, gop=25)
    write_srt(tmp_path / "cooking.srt", COOKING_CUES[:4])
    return video


def _ingestor(monkeypatch, **env):
    from ingest.pipeline import Ingestor

    env = {"summarize": "off", **env}  # the whole-video summary would ask the stub too
    for key, value in env.items():
        monkeypatch.setenv(f"VIDRAG_{key.upper()}", str(value))
    return Ingestor(Settings())


def test_a_word_only_in_a_description_is_found_at_its_frame(settings, monkeypatch, cooking):
    """The stub's description of the frame at 10 s holds a word no subtitle has; search finds
    the moment at 10 s, with what was said there and what was seen."""
    from rag import Library
    from rag.answering.prompt import render

    with StubVLM() as stub:
        ingestor = _ingestor(monkeypatch, vlm_base_url=stub.base_url)
        result = ingestor.add(cooking)
    assert result.warnings == [] and result.described == result.video.frames == 4
    assert len(stub.requests) == 2  # groups of VIDRAG_DESCRIBE_GROUP=3 consecutive frames
    images = sorted(sum(p["type"] == "image_url" for p in r["messages"][1]["content"]) for r in stub.requests)
    assert images == [1, 3]
    store = ingestor.store
    assert store.described_frames(result.video.id) == {0, 1, 2, 3}
    assert all("colourful" not in c.text for c in store.chunks(result.video.id))  # speech only

    at = store.frames(result.video.id)[2].timestamp_s  # about 10 s (a keyframe may be used)
    word = frame_word(at)
    assert not any(word in text for _, _, text in COOKING_CUES)
    moments = Library(ingestor.settings, store=store).searcher.search(word, k=3, signals=("dense", "bm25"))
    top = moments[0]
    assert top.frame is not None and top.frame.timestamp_s == pytest.approx(at)
    assert top.start_s <= at < top.end_s
    assert word in top.seen and "knead the dough" in top.text  # seen and said
    prompt_text = render(word, [top], [], 0, 64)[-1]["content"][0]["text"]
    assert 'On screen (seen): """' in prompt_text and word in prompt_text and "knead" in prompt_text
    store.close()


@pytest.mark.parametrize("mode", ["error", "hang", "cut", "garbage"])
def test_describe_faults_leave_the_video_indexed_with_a_warning(settings, monkeypatch, cooking, mode):
    with StubVLM(mode=mode) as stub:
        ingestor = _ingestor(monkeypatch, vlm_base_url=stub.base_url, describe="on", describe_timeout_s=1)
        result = ingestor.add(cooking)
    assert result.status == "added" and result.described == 0
    assert ingestor.store.list_videos()[0].id == result.video.id
    (warning,) = result.warnings
    assert "\n" not in warning and warning.startswith("4 of 4 frames not described")
    assert ingestor.store.described_frames(result.video.id) == set()
    ingestor.store.close()


def test_auto_without_an_endpoint_skips_quietly(settings, monkeypatch, cooking):
    ingestor = _ingestor(monkeypatch, vlm_base_url=refused_url())
    result = ingestor.add(cooking)
    assert result.warnings == [] and result.described == 0 and result.not_described.startswith("no VLM")
    ingestor.store.close()


def test_backfill_describes_and_tags_then_a_second_run_changes_nothing(settings, monkeypatch, cooking):
    from ingest.backfill import backfill

    ingestor = _ingestor(monkeypatch, describe="off")
    video = ingestor.add(cooking).video
    store = ingestor.store
    # As if indexed before tags existed: the registry row without them.
    video.tags, video.frame_tags = [], []
    store.commit_video(video)
    with StubVLM() as stub:
        monkeypatch.setenv("VIDRAG_VLM_BASE_URL", stub.base_url)
        ingestor.settings = Settings()
        first = backfill(ingestor, store.get_video(video.id))
        assert (first.described, first.newly_described, first.tagged) == (4, 4, True)
        rows_before = _text_rows(store, video.id)
        registry_before = store.get_video(video.id)
        sent = len(stub.requests)
        second = backfill(ingestor, store.get_video(video.id))
    assert (second.described, second.newly_described, second.tagged) == (4, 0, False)
    assert len(stub.requests) == sent  # nothing asked again
    assert _text_rows(store, video.id) == rows_before and store.get_video(video.id) == registry_before
    assert len(registry_before.frame_tags) == 4
    store.close()


def test_backfill_resumes_where_a_run_stopped(settings, monkeypatch, cooking):
    """Frames already described are not sent again; only the missing ones are."""
    from ingest.backfill import backfill

    ingestor = _ingestor(monkeypatch, describe="off")
    video = ingestor.add(cooking).video
    store = ingestor.store
    with StubVLM() as stub:
        monkeypatch.setenv("VIDRAG_VLM_BASE_URL", stub.base_url)
        ingestor.settings = Settings()
        from ingest.stages.describe import describe_video
        from rag.models import load_text_embedder

        text_model = load_text_embedder(ingestor.settings.text_model, "cpu")
        describe_video(ingestor.settings, store, text_model, video.id, store.frames(video.id), numbers=[0, 1])
        stub.requests.clear()
        result = backfill(ingestor, store.get_video(video.id))
    assert result.newly_described == 2 and result.described == 4
    sent_times = [text for r in stub.requests for p in r["messages"][1]["content"] if p["type"] == "text"
                  for text in [p["text"]]]
    clocks = [f"[{format_clock(f.timestamp_s)}]" for f in store.frames(video.id)]
    assert len(sent_times) == 1 and all((clock in sent_times[0]) == (n >= 2) for n, clock in enumerate(clocks))
    store.close()


def test_a_library_from_before_descriptions_keeps_working(settings, monkeypatch, cooking):
    """A text collection without the `source` field (made by the previous version) opens, its
    transcript is found, and descriptions backfilled into it are told apart by their ids."""
    import rag.store.store
    from ingest.backfill import backfill
    from rag import Library

    todays_schema = rag.store.store._text_schema
    monkeypatch.setattr(rag.store.store, "_text_schema", _previous_text_schema)
    ingestor = _ingestor(monkeypatch, describe="off")
    video = ingestor.add(cooking).video
    ingestor.store.close()
    monkeypatch.setattr(rag.store.store, "_text_schema", todays_schema)  # today's code, on yesterday's library
    with StubVLM() as stub:
        ingestor = _ingestor(monkeypatch, vlm_base_url=stub.base_url)
        store = ingestor.store
        assert not store.text_has_source()
        assert backfill(ingestor, store.get_video(video.id)).described == 4
    assert [c.text for c in store.chunks(video.id)] == [" ".join(t for _, _, t in COOKING_CUES[:4])]
    library = Library(ingestor.settings, store=store)
    at = store.frames(video.id)[3].timestamp_s
    top = library.searcher.search(frame_word(at), k=1, signals=("dense", "bm25"))[0]  # CLIP's weights are random
    assert top.frame.timestamp_s == pytest.approx(at) and frame_word(at) in top.seen
    assert "knead" in library.search("knead the dough", k=1)[0].text
    store.close()


def _text_rows(store, video_id):
    from rag.store import TEXT_COLLECTION

    rows = store.client.query(TEXT_COLLECTION, filter=f'video_id == "{video_id}"', output_fields=["id", "text"])
    return sorted((r["id"], r["text"]) for r in rows)


def _previous_text_schema(client, dim, server=False):
    """The text collection as the version before frame descriptions made it: no `source`."""
    return text_schema_of_old(client, dim, with_source=False)


@pytest.mark.slow
def test_big_buck_bunny_with_a_vlm_up(settings, monkeypatch, shared_media, tmp_path):
    """Every frame described; a word only the stub's description holds finds that frame's moment;
    the frame itself, re-encoded as a PNG at half size, finds its own moment first."""
    from PIL import Image

    from rag import Library

    clip = tmp_path / "bunny.webm"
    clip.symlink_to(shared_media / "big_buck_bunny_0_30.webm")
    with StubVLM() as stub:
        ingestor = _ingestor(monkeypatch, vlm_base_url=stub.base_url)
        result = ingestor.add(clip)
    store = ingestor.store
    frames = store.frames(result.video.id)
    assert result.warnings == [] and len(store.described_frames(result.video.id)) == len(frames) == 6
    assert len(result.video.frame_tags) == len(frames)
    library = Library(ingestor.settings, store=store)
    at = frames[4].timestamp_s
    top = library.searcher.search(frame_word(at), k=3, signals=("dense", "bm25"))[0]
    assert top.start_s <= at < top.end_s and frame_word(at) in top.seen
    query = tmp_path / "frame.png"
    with Image.open(frames[4].path) as image:
        image.resize((image.width // 2, image.height // 2)).save(query)
    first = library.searcher.search("", image=query, k=3)[0]
    assert first.frame.timestamp_s == pytest.approx(at) and first.start_s <= at < first.end_s
    store.close()
