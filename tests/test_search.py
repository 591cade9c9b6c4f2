"""Hybrid search on the real MiniLM weights: paraphrases, rare names, and fusion by time."""

import pytest

from conftest import RARE_NAME


def test_a_paraphrase_finds_its_moment(library):
    """Worded unlike its subtitle, the question still finds the 5 s window in the top 3."""
    lib, ids = library
    moments = lib.search("How long should I work the dough with my hands?", k=3)
    hits = [m for m in moments if m.video_id == ids["cooking.mp4"] and m.start_s == pytest.approx(10.0)]
    assert hits, [(m.video_name, m.start_s, m.text) for m in moments]
    assert hits[0].end_s == pytest.approx(14.8)  # the segment, not the 30 s chunk around it
    assert "knead the dough" in hits[0].text


def test_a_rare_name_is_found_by_bm25_where_dense_search_misses_it(library):
    """MiniLM reads "Tollbridge" as "toll bridge" and prefers the talk about a real toll bridge;
    BM25 matches the exact name. (CLIP is left out: its weights are random here.)"""
    lib, ids = library
    question = f"Who is {RARE_NAME.split()[-1]}?"
    dense_only = lib.searcher.search(question, k=3, signals=("dense",))
    assert not any(RARE_NAME in m.text for m in dense_only)
    fused = lib.searcher.search(question, k=3, signals=("dense", "bm25"))
    assert RARE_NAME in fused[0].text and "bm25" in fused[0].signals
    assert fused[0].video_id == ids["lecture.mp4"] and fused[0].start_s == pytest.approx(750.0)
    assert fused[0].end_s == pytest.approx(754.8)


def test_a_frame_hit_and_a_text_hit_in_one_window_are_one_moment(library):
    """In a short video every frame is a CLIP hit, so the text hit's window takes its frame in."""
    lib, ids = library
    moments = lib.search("preheat the oven", video_ids=[ids["cooking.mp4"]], k=5)
    oven = next(m for m in moments if m.start_s == pytest.approx(25.0))
    assert set(oven.signals) >= {"dense", "bm25", "clip"}
    assert oven.frame is not None and oven.start_s - 2.5 <= oven.frame.timestamp_s <= oven.end_s + 2.5
    assert all(m.video_id == ids["cooking.mp4"] for m in moments)
    others = [m for m in moments if m is not oven]
    assert all(m.frame != oven.frame for m in others)  # the frame hit went into one moment only


def test_frame_only_moments_carry_their_window_transcript(library):
    lib, ids = library
    moments = lib.searcher.search("anything", video_ids=[ids["garden.mp4"]], k=5, signals=("clip",))
    assert moments and all(m.signals == ("clip",) for m in moments)
    for m in moments:
        assert m.end_s - m.start_s <= 5.0 + 1e-6 and m.frame.timestamp_s == m.start_s
        assert m.text  # every garden window has speech


def test_video_filter_and_empty_results(library):
    lib, ids = library
    only = lib.search("tomatoes", video_ids=[ids["garden.mp4"]], k=10)
    assert only and {m.video_id for m in only} == {ids["garden.mp4"]}
    assert lib.search("tomatoes", video_ids=["no-such-video"]) == []
    assert lib.search("   ") == []


def test_moment_json_has_the_documented_fields(library):
    lib, _ = library
    data = lib.search("sourdough bread", k=1)[0].to_json()
    assert {"video_id", "video_name", "start_s", "end_s", "text", "frame_path", "frame_s", "score"} <= data.keys()


def test_real_clip_paraphrase_lands_in_its_5_second_window(ingestor, shared_media, tmp_path):
    """Big Buck Bunny with a sidecar, end to end (the fast tier's one real ingest and search): a
    paraphrased question finds the 5-10 s window."""
    from conftest import BUNNY_CUES, write_srt
    from rag import Library

    clip = tmp_path / "bunny.webm"
    clip.symlink_to(shared_media / "big_buck_bunny_0_30.webm")
    write_srt(tmp_path / "bunny.srt", BUNNY_CUES)
    ingestor.add(clip)
    moments = Library(ingestor.settings, store=ingestor.store).search("when does the little bird stretch", k=3)
    bird = [m for m in moments if m.start_s == pytest.approx(5.0)]
    assert bird and bird[0].end_s == pytest.approx(9.8), [(m.start_s, m.end_s, m.text) for m in moments]


def test_a_question_that_quotes_a_segment_word_for_word_is_measured_by_how_much_it_covers():
    from rag.retrieval.search import quoted_share
    from rag.types import Chunk, Segment

    lines = (Segment(0, 5, "Roadmap Priorities"), Segment(0, 5, "Ship the offline installer first!"))
    chunk = Chunk(0, 5, "\n".join(s.text for s in lines), lines)
    assert quoted_share("roadmap priorities", chunk) == 1.0  # a whole line, case aside
    assert quoted_share("the offline installer", chunk) == 0.6  # 3 of the line's 5 words
    assert quoted_share("offline the installer", chunk) == 0.0  # out of order: not a quote
    assert quoted_share("Priorities Ship", chunk) == 0.0  # across two lines: not one segment's
    assert quoted_share("installer", chunk) == 0.0  # one word is BM25's to find
