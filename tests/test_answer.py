"""Answers through the real openai client against a loopback OpenAI-protocol server."""

import base64
import io

import pytest
from PIL import Image

from openai_stub import StubVLM, refused_url
from rag import Library
from rag.answering.citations import find_citations, map_citations
from rag.answering.prompt import PixtralCounter
from rag.errors import AnswerError
from rag.types import Frame, Moment

QUESTION = "How long do I knead the dough?"


def _library_with(library, stub_url: str, **settings) -> Library:
    lib, _ = library
    changed = lib.settings.model_copy(update={"vlm_base_url": stub_url, "vlm_timeout_s": 2.0, **settings})
    return Library(changed, store=lib.store)


def test_request_shape_and_streamed_answer(library):
    """System + history + one user message with the moments, the question and JPEG frames."""
    with StubVLM() as stub:
        lib = _library_with(library, stub.base_url)
        history = [{"role": "user", "content": "What are we baking?"},
                   {"role": "assistant", "content": "A sourdough bread [00:00]."}]
        answer = lib.answer(QUESTION, history=history)
        pieces = list(answer)
    assert len(pieces) > 3 and "".join(pieces) == answer.text == stub.reply
    (request,) = stub.requests
    assert request["model"] == "mistralai/Pixtral-12B-2409" and request["stream"] is True
    assert request["max_tokens"] == lib.settings.vlm_max_tokens
    roles = [m["role"] for m in request["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "[mm:ss]" in request["messages"][0]["content"]
    assert request["messages"][1]["content"] == "What are we baking?"
    parts = request["messages"][-1]["content"]
    text = parts[0]["text"]
    assert QUESTION in text and "knead the dough" in text and 'video "cooking.mp4"' in text
    images = [p["image_url"]["url"] for p in parts[1:] if p["type"] == "image_url"]
    assert 1 <= len(images) <= lib.settings.vlm_max_images
    for url in images:
        assert url.startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
            assert image.format == "JPEG" and max(image.size) <= lib.settings.vlm_image_max_side
    assert answer.prompt_tokens == PixtralCounter().count(request["messages"])


def test_budget_is_enforced_with_the_pixtral_tokenizer(library):
    """With little context left, the prompt drops frames (then turns, then moments) to fit."""
    with StubVLM() as stub:
        roomy = _library_with(library, stub.base_url).answer(QUESTION)
        list(roomy)
        budget = roomy.prompt_tokens - 200  # less room than the full prompt needs
        tight = _library_with(library, stub.base_url, vlm_context_tokens=budget + 1024,
                              vlm_max_tokens=1024).answer(QUESTION)
        list(tight)
    full, fitted = stub.requests
    counter = PixtralCounter()
    assert counter.count(full["messages"]) == roomy.prompt_tokens
    assert counter.count(fitted["messages"]) == tight.prompt_tokens <= budget
    assert len(fitted["messages"][-1]["content"]) < len(full["messages"][-1]["content"])  # a frame went


def test_follow_up_questions_search_with_the_earlier_turn(library):
    """"And what comes after that?" alone finds nothing useful; with the earlier question it does."""
    lib, ids = library
    history = [{"role": "user", "content": "When do I preheat the oven?"},
               {"role": "assistant", "content": "At [00:25]."}]
    with StubVLM() as stub:
        answer = _library_with(library, stub.base_url).answer("And what comes after that?", history=history)
    assert any(m.video_id == ids["cooking.mp4"] and m.start_s == pytest.approx(25.0) for m in answer.moments)


def test_citations_map_to_moments_or_are_unsupported(library):
    with StubVLM(reply="Knead for ten minutes [00:10], then rest it [00:15]. The moon landing [12:00]!") as stub:
        answer = _library_with(library, stub.base_url).answer(QUESTION)
        list(answer)
    by_label = {c.label: c for c in answer.citations}
    assert by_label["[00:10]"].supported and by_label["[00:10]"].start_s == 10.0
    assert by_label["[12:00]"].supported is False and by_label["[12:00]"].video_id is None


@pytest.mark.parametrize("fault,message", [
    ("error", "answered HTTP 500: CUDA out of memory"),
    ("hang", "did not answer within 2 s"),
    ("cut", "broke off its answer"),
])
def test_faults_keep_the_moments_and_name_the_endpoint(library, fault, message):
    with StubVLM(mode=fault) as stub:
        answer = _library_with(library, stub.base_url).answer(QUESTION)
        assert answer.moments
        with pytest.raises(AnswerError, match=message) as raised:
            for _ in answer:
                pass
    assert stub.base_url in str(raised.value)
    assert answer.error is raised.value and answer.moments
    if fault == "cut":
        assert answer.text and answer.text != stub.reply  # half an answer arrived


def test_a_slow_answer_is_cut_at_the_deadline_and_keeps_what_streamed(library):
    """A token every 0.4 s never trips the per-wait timeout (2 s); the 1.5 s deadline for the
    whole answer does: the text so far stays, marked cut, and the moments are there."""
    import time

    with StubVLM(interval_s=0.4) as stub:
        answer = _library_with(library, stub.base_url, vlm_deadline_s=1.5).answer(QUESTION)
        started = time.monotonic()
        with pytest.raises(AnswerError, match=r"did not finish its answer within 1\.5 s \(VIDRAG_VLM_DEADLINE_S\)"):
            for _ in answer:
                pass
        elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 2.5
    assert answer.cut and answer.text and stub.reply.startswith(answer.text) and answer.text != stub.reply
    assert answer.moments and answer.error is not None


def test_refused_connection(library):
    url = refused_url()
    answer = _library_with(library, url).answer(QUESTION)
    with pytest.raises(AnswerError, match=f"cannot reach the VLM at {url}"):
        list(answer)
    assert answer.moments


def test_nothing_indexed_means_no_request(library, tmp_path):
    from rag.settings import Settings
    from rag.store import Store

    settings = Settings(_env_file=None, data_dir=tmp_path / "empty", vlm_base_url=refused_url())
    lib = Library(settings, store=Store(settings))
    answer = lib.answer(QUESTION)
    assert answer.moments == [] and list(answer) == []
    lib.close()


# --- citations, pure ---------------------------------------------------------------------------


def _moment(video_id, name, start, end):
    return Moment(video_id, name, start, end, "", Frame(start, "f.jpg"), 1.0, ("dense",))


def test_find_citations_formats():
    text = "See [01:05], [1:02:03] and [talk.mp4 00:07-00:09] or [talk, 00:08]; not [note] or [99]."
    assert find_citations(text) == [
        ("[01:05]", "", 65.0), ("[1:02:03]", "", 3723.0), ("[talk.mp4 00:07-00:09]", "talk.mp4", 7.0),
        ("[talk, 00:08]", "talk", 8.0),
    ]


def test_map_citations_uses_names_and_tolerance():
    moments = [_moment("a", "talk.mp4", 5.8, 9.8), _moment("b", "demo.mkv", 60.0, 65.0)]
    cited = map_citations("[00:05] [demo 01:02] [talk.mp4 01:02] [00:30] [00:05]", moments)
    assert [(c.label, c.video_id, c.supported) for c in cited] == [
        ("[00:05]", "a", True), ("[demo 01:02]", "b", True), ("[talk.mp4 01:02]", None, False),
        ("[00:30]", None, False),
    ]
