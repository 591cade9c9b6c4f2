"""Summaries and chapters: validation, snapping, map-reduce within the budget, retries and faults,
against the loopback OpenAI server."""

import json

import pytest

from conftest import BUNNY_CUES, COOKING_CUES, make_video, write_srt
from openai_stub import StubVLM, refused_url, request_text
from rag.answering.prompt import PixtralCounter
from rag.errors import AnswerError
from rag.settings import Settings
from rag.store.videos import VideoIndex
from rag.types import Frame, Segment, Video
from rag.videos.summarize import Chapter, Summarizer, parse_summary, snap_chapters, summarize_video


def _settings(url: str, **extra) -> Settings:
    return Settings(_env_file=None, vlm_base_url=url, **extra)


@pytest.fixture
def frames(tmp_path) -> list[Frame]:
    from PIL import Image

    out = []
    for i, colour in enumerate(["red", "green", "blue"]):
        path = tmp_path / f"f{i}.jpg"
        Image.new("RGB", (320, 180), colour).save(path)
        out.append(Frame(i * 10.0, str(path)))
    return out


def test_parse_summary_names_what_is_wrong():
    """Valid JSON gives the summary and chapters; each kind of invalid reply says why."""
    summary, chapters = parse_summary('{"summary": " A  talk. ", "chapters": [{"start_s": 5, "title": " Intro "}]}')
    assert summary == "A talk." and chapters == [Chapter(5.0, "Intro")]
    for reply, problem in [
        ("{", "not JSON"), ("[]", "not a JSON object"), ('{"summary": "", "chapters": []}', "no summary"),
        ('{"summary": "x", "chapters": []}', "no chapters"),
        ('{"summary": "x", "chapters": [{"start_s": "0:05", "title": "a"}]}', "without a start time"),
        ('{"summary": "x", "chapters": [{"start_s": true, "title": "a"}]}', "without a start time"),
        ('{"summary": "x", "chapters": [{"start_s": 1, "title": " "}]}', "without a title"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_summary(reply)


def test_chapters_snap_to_real_boundaries_sorted_inside_the_video_first_at_zero():
    """Starts move to the nearest boundary, past-the-end ones to the last, duplicates merge."""
    chapters = [Chapter(21.0, "Rabbit"), Chapter(-3.0, "Before"), Chapter(7.2, "Bird"), Chapter(99.0, "After"),
                Chapter(6.0, "Bird again")]
    snapped = snap_chapters(chapters, boundaries=[0.0, 5.0, 10.0, 20.0, 25.0, 27.5], duration_s=30.0)
    assert snapped == [Chapter(0.0, "Before"), Chapter(5.0, "Bird again"), Chapter(20.0, "Rabbit"),
                       Chapter(27.5, "After")]
    late = snap_chapters([Chapter(12.0, "Only")], boundaries=[11.0, 30.0], duration_s=30.0)
    assert late == [Chapter(0.0, "Only")]  # the first chapter always starts the video


def test_short_video_one_request_with_frames(frames):
    """A short video is one request: its transcript lines with times, a few frames, the schema."""
    video = Video("v1", "bunny.webm", "", 30.0)
    segments = [Segment(a, b, t) for a, b, t in BUNNY_CUES]
    with StubVLM() as stub:
        summary = Summarizer(_settings(stub.base_url)).summarize(video, segments, [], frames)
    (request,) = stub.requests
    assert request["response_format"]["type"] == "json_schema"
    assert "[00:05] A small bird wakes up" in request_text(request)
    assert sum(p["type"] == "image_url" for p in request["messages"][-1]["content"]) == 2
    starts = [c.start_s for c in summary.chapters]
    assert starts[0] == 0 and starts == sorted(starts) and all(0 <= s < 30 for s in starts)
    assert set(starts) <= {a for a, _, _ in BUNNY_CUES} | {f.timestamp_s for f in frames}


def test_descriptions_join_the_material(frames):
    """Frame descriptions are sent as seen-lines between the transcript's."""
    video = Video("v1", "bunny.webm", "", 30.0)
    with StubVLM() as stub:
        Summarizer(_settings(stub.base_url)).summarize(
            video, [Segment(0, 5, "Hello.")], [Segment(10, 12, "A rabbit on a hill.")], frames)
    assert "[00:10] (seen) A rabbit on a hill." in request_text(stub.requests[0])


def test_three_hour_lecture_is_mapped_and_reduced_within_the_budget(frames):
    """Every request of a 3-hour transcript fits the context (counted with Pixtral's tokenizer);
    windows cover the whole transcript once; the merged chapters span the video."""
    topics = ["The Roman empire built roads across distant provinces.", "Jupiter has dozens of moons.",
              "Photosynthesis turns sunlight into sugar.", "Glaciers carve valleys shaped like the letter U."]
    segments = [Segment(i * 5.0, i * 5.0 + 4.8, f"{topics[i % 4]} Point {i}.") for i in range(3 * 720)]
    video = Video("lecture", "lecture.mp4", "", 3 * 3600.0)
    with StubVLM() as stub:
        settings = _settings(stub.base_url, vlm_context_tokens=8192, vlm_max_tokens=512)
        summary = Summarizer(settings).summarize(video, segments, [], frames)
    counter = PixtralCounter()
    counts = [counter.count(r["messages"]) for r in stub.requests]
    assert max(counts) <= 8192 - 512, counts
    texts = [request_text(r) for r in stub.requests]
    maps = [t for t in texts if t.startswith("This is part")]
    assert len(maps) >= 5 and len(stub.requests) > len(maps)  # mapped, then reduced
    sent = [line for t in maps for line in t.splitlines() if "Point " in line]
    assert len(sent) == len(segments)  # every segment in exactly one window
    starts = [c.start_s for c in summary.chapters]
    assert starts[0] == 0 and starts == sorted(starts) and starts[-1] > 3600 and starts[-1] < 3 * 3600
    assert summary.requests == len(stub.requests)


def test_invalid_json_is_asked_again_then_one_line_error():
    """An invalid reply is retried once; two are one AnswerError naming the endpoint."""
    video = Video("v1", "talk.mp4", "", 20.0)
    segments = [Segment(0, 5, "Hello."), Segment(10, 15, "Goodbye.")]
    good = json.dumps({"summary": "A greeting.", "chapters": [{"start_s": 10, "title": "Goodbye"}]})
    with StubVLM(structured=["{not json", good]) as stub:
        summary = Summarizer(_settings(stub.base_url)).summarize(video, segments, [], [])
    assert len(stub.requests) == 2 and summary.chapters == [Chapter(0.0, "Goodbye")]
    with StubVLM(structured=['{"summary": "x", "chapters": []}']) as stub:
        with pytest.raises(AnswerError) as caught:
            Summarizer(_settings(stub.base_url)).summarize(video, segments, [], [])
    assert len(stub.requests) == 2
    assert str(caught.value) == f"the VLM at {stub.base_url} gave an invalid summary twice: no chapters"


@pytest.fixture
def cooking(ingestor, tmp_path, monkeypatch):
    """One indexed video (summaries off during the add), and its store."""
    video = make_video(tmp_path / "cooking.mp4", 45, audio=False, size="160x120", rate=5, gop=25)
    write_srt(tmp_path / "cooking.srt", COOKING_CUES)
    ingestor.settings = ingestor.settings.model_copy(update={"summarize": "off"})
    return ingestor.add(video).video


def test_each_fault_is_one_line_naming_the_endpoint_and_keeps_the_stored_summary(ingestor, cooking):
    """A failing VLM (HTTP 500, no answer, a cut connection, nothing listening) leaves the summary
    stored before it exactly as it was."""
    store = ingestor.store
    with StubVLM() as stub:
        first = summarize_video(store, _settings(stub.base_url), cooking.id)
    before = VideoIndex(store).get_summary(cooking.id)
    assert before["summary"] == first.summary
    for mode in ["error", "hang", "cut", "refused"]:
        with StubVLM(mode=mode) as stub:
            url = refused_url() if mode == "refused" else stub.base_url
            with pytest.raises(AnswerError) as caught:
                summarize_video(store, _settings(url, vlm_timeout_s=1.0), cooking.id, force=True)
        message = str(caught.value)
        assert url in message and "\n" not in message, (mode, message)
        assert VideoIndex(store).get_summary(cooking.id) == before, mode


def test_stored_summary_is_reused_unless_forced(ingestor, cooking):
    """Asking again reads what is stored; --force writes it again."""
    with StubVLM() as stub:
        summarize_video(ingestor.store, _settings(stub.base_url), cooking.id)
        summarize_video(ingestor.store, _settings(stub.base_url), cooking.id)
        assert len(stub.requests) == 1
        summarize_video(ingestor.store, _settings(stub.base_url), cooking.id, force=True)
        assert len(stub.requests) == 2
    ingestor.remove(cooking.id)
    assert VideoIndex(ingestor.store).get_summary(cooking.id) is None
