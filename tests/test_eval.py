"""`vidrag eval`: suites, scoring, the ablation table, and the shipped suites on real
speech (espeak-ng, transcribed by the real Whisper tiny.en)."""

import json
import shutil

import pytest

from conftest import REAL_WHISPER, ROOT
from rag.eval import Case, SuiteError, is_hit, load_suite, parse_line, resolve_videos, score_search
from rag.types import Moment, Video

EVALS = ROOT / "evals"


def _moment(start, end, video_id="v1"):
    return Moment(video_id, "talk.mp4", start, end, "", None, 1.0, ("dense",))


def test_a_hit_starts_near_or_inside_the_window_and_is_narrow():
    case = Case(1, "q", "talk.mp4", 54.0, 61.5)
    assert is_hit(_moment(52.5, 60.0), case, "v1", 2.0, 15.0)  # 1.5 s early: within tolerance
    assert is_hit(_moment(58.0, 63.0), case, "v1", 2.0, 15.0)  # starts inside
    assert not is_hit(_moment(51.0, 60.0), case, "v1", 2.0, 15.0)  # 3 s of silence first
    assert not is_hit(_moment(61.5, 65.0), case, "v1", 2.0, 15.0)  # starts after the window
    assert not is_hit(_moment(53.0, 83.0), case, "v1", 2.0, 15.0)  # a 30 s chunk points at nothing
    assert not is_hit(_moment(54.0, 60.0, "v2"), case, "v1", 2.0, 15.0)  # another video


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 3: not JSON"),
    ("[1, 2]", "line 3: not a JSON object"),
    ('{"question": "q", "video": "a.mp4", "start_s": 1}', "line 3: missing end_s"),
    ('{"question": "", "video": "a.mp4", "start_s": 1, "end_s": 2}', "line 3: question must be"),
    ('{"question": "q", "video": "a.mp4", "start_s": "1", "end_s": 2}', "line 3: start_s must be seconds"),
    ('{"question": "q", "video": "a.mp4", "start_s": 5, "end_s": 2}', "line 3: end_s must be after"),
    ('{"question": "q", "video": "a.mp4", "start_s": 1, "end_s": 2, "answer_contains": 7}', "line 3: answer_contains"),
])
def test_a_malformed_line_is_named_by_its_number(line, message):
    with pytest.raises(SuiteError, match=message):
        parse_line(line, 3)


def test_suite_lines_and_video_names(tmp_path):
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"question": "q1", "video": "talk.mp4", "start_s": 1, "end_s": 2, "answer_contains": "x"}\n\n'
                     '{"question": "q2", "video": "abcd12", "start_s": 3.5, "end_s": 4}\n')
    cases = load_suite(suite)
    assert [(c.line, c.question, c.answer_contains) for c in cases] == [(1, "q1", ("x",)), (3, "q2", ())]
    videos = [Video("abcd1234", "talk.mp4", "", 10.0), Video("abcd1299", "other.mp4", "", 10.0)]
    with pytest.raises(SuiteError, match="^s.jsonl line 3: video 'abcd12' names more than one video$"):
        resolve_videos(cases, videos, "s.jsonl")
    videos[1] = Video("ffff0000", "other.mp4", "", 10.0)
    assert resolve_videos(cases, videos) == {1: "abcd1234", 3: "abcd1234"}
    with pytest.raises(SuiteError, match="line 1: video 'talk.mp4' is not in the library"):
        resolve_videos(cases, videos[1:])


def test_the_shipped_suites_parse():
    for suite in ("big_buck_bunny.jsonl", "espeak_speech.jsonl"):
        cases = load_suite(EVALS / suite)
        assert len(cases) >= 6 and all(c.answer_contains for c in cases)


def test_ablation_rows_on_the_test_library(library):
    """Each signal alone and the fusion, scored on paraphrased questions of the cooking video;
    a signal the search doesn't have is reported as not available."""
    lib, ids = library
    cases = [Case(1, "How long should I work the dough with my hands?", "cooking.mp4", 10.0, 14.8),
             Case(2, "How hot does the oven need to be?", "cooking.mp4", 25.0, 29.8)]
    video_ids = {c.line: ids["cooking.mp4"] for c in cases}
    fusion = score_search(lib.searcher, cases, video_ids, "fusion", 5)
    assert fusion.ranks[0] is not None and fusion.ranks[0] <= 3
    assert fusion.hits_at(5) >= fusion.hits_at(3) >= fusion.hits_at(1)
    assert fusion.to_json()["median_start_error_s"] is not None
    assert 0 < fusion.mrr <= 1
    from rag.retrieval.search import SIGNALS

    descriptions = score_search(lib.searcher, cases, video_ids, "descriptions", 5)
    assert descriptions.available == ("descriptions" in SIGNALS)
    dense = score_search(lib.searcher, cases, video_ids, "dense", 5)
    assert dense.available and len(dense.ranks) == 2


def test_unknown_signal_is_not_available(library):
    lib, ids = library
    case = Case(1, "q", "cooking.mp4", 0.0, 4.8)
    row = score_search(lib.searcher, [case], {1: ids["cooking.mp4"]}, "no-such-signal", 5)
    assert not row.available and row.to_json() == {"signals": "no-such-signal", "available": False}


@pytest.mark.slow
def test_eval_cli_on_big_buck_bunny_prints_the_ablation_table(run_cli, shared_media, tmp_path):
    """The shipped Big Buck Bunny suite with its subtitles: the table, JSON, and a bad line."""
    clip = tmp_path / "big_buck_bunny_0_30.webm"
    clip.symlink_to(shared_media / "big_buck_bunny_0_30.webm")
    shutil.copy(EVALS / "big_buck_bunny_0_30.srt", tmp_path)
    run_cli("add", str(clip), check=True)
    suite = str(EVALS / "big_buck_bunny.jsonl")
    table = run_cli("eval", suite, "--signals", "all", check=True).stdout
    for row in ("dense", "bm25", "clip", "descriptions", "fusion"):
        assert any(line.startswith(row) for line in table.splitlines()), table
    assert "hits@3" in table and "MRR" in table
    data = json.loads(run_cli("eval", suite, "--json", check=True).stdout)
    (fusion,) = data["rows"]
    assert fusion["signals"] == "fusion" and fusion["questions"] == 6
    assert fusion["hits@3"] >= 0.5, fusion  # the subtitles are exact; MiniLM finds most paraphrases
    bad = tmp_path / "bad.jsonl"
    bad_line = '{"question": "q", "video": 3, "start_s": 1, "end_s": 2}\n'
    bad.write_text((EVALS / "big_buck_bunny.jsonl").read_text() + bad_line)
    result = run_cli("eval", str(bad))
    assert result.returncode == 1
    assert result.stderr == "error: bad.jsonl line 7: video must be a video's name or id\n"


@pytest.mark.slow
def test_espeak_suite_with_real_whisper_finds_every_passage(tmp_path, model_env, monkeypatch):
    """Eight passages spoken by espeak-ng, transcribed by the real tiny.en: every paraphrased
    question finds its passage in the top 3, and each first hit starts within 1 s of the speech."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng; .ci/run installs it)")
    if not REAL_WHISPER.is_file():
        pytest.skip(f"the real Whisper tiny.en is not at {REAL_WHISPER}")
    from evals.speech import build
    from ingest.pipeline import Ingestor
    from rag import Library
    from rag.settings import Settings

    video, suite = build(tmp_path / "suite")
    shipped = load_suite(EVALS / "espeak_speech.jsonl")
    built = load_suite(suite)
    assert [(c.question, c.start_s) for c in built] == [(c.question, c.start_s) for c in shipped]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", whisper_model=str(REAL_WHISPER),
                        whisper_language="en", clip_model=model_env["VIDRAG_CLIP_MODEL"], clip_pretrained="",
                        text_model=model_env["VIDRAG_TEXT_MODEL"], device="cpu")
    ingestor = Ingestor(settings)
    try:
        video_id = ingestor.add(video).video.id
        library = Library(settings, store=ingestor.store)
        scores = score_search(library.searcher, built, {c.line: video_id for c in built}, "fusion", 5)
        missed = [(c.line, c.question) for c, rank in zip(built, scores.ranks, strict=True) if rank is None or rank > 3]
    finally:
        ingestor.store.close()
    assert scores.hits_at(3) == 1.0, missed
    # Word-level times clip segments to the speech: every first hit starts within 1 s of it.
    assert len(scores.start_errors_s) == len(built) and max(scores.start_errors_s) <= 1.0, scores.start_errors_s


def test_answers_are_scored_against_their_windows(library):
    """--answers: citations inside the expected window, supported citations, answer_contains;
    a VLM that can't be reached is counted as failed answers, not a crash."""
    from openai_stub import StubVLM, refused_url
    from rag import Library
    from rag.eval import score_answers

    lib, ids = library
    cases = [Case(1, "How long should I work the dough with my hands?", "cooking.mp4", 10.0, 14.8, ("ten minutes",)),
             Case(2, "How hot does the oven need to be?", "cooking.mp4", 25.0, 29.8, ("degrees",))]
    video_ids = {c.line: ids["cooking.mp4"] for c in cases}
    with StubVLM(reply="Knead it for ten minutes [00:10], not [09:00].") as stub:
        settings = lib.settings.model_copy(update={"vlm_base_url": stub.base_url, "vlm_timeout_s": 5.0})
        data = score_answers(Library(settings, store=lib.store), cases, video_ids).to_json()
    assert data["answered"] == 2 and data["failed"] == 0 and data["citations"] == 4
    assert data["citations_in_window"] == 0.25  # [00:10], for the kneading question only
    assert data["answer_contains"] == 0.5 and data["answer_contains_checked"] == 2
    assert data["with_supported_citation"] >= 0.5  # [00:10] is a retrieved kneading moment
    settings = lib.settings.model_copy(update={"vlm_base_url": refused_url(), "vlm_timeout_s": 2.0})
    failed = score_answers(Library(settings, store=lib.store), cases[:1], video_ids)
    assert failed.answered == 0 and len(failed.failed) == 1 and failed.failed[0].startswith("line 1: ")
