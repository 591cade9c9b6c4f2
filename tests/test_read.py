"""The read stage: RapidOCR's real models on Pillow-drawn slides, screen-text rows (one per
stretch of unchanged text, a new one when a bullet appears), search by the words on screen, a
text-free video that costs no rows, and `vidrag read` backfill: idempotent, forced, interrupted."""

import json

import pytest

from conftest import ffmpeg
from evals.slides import Line, Slide, build
from ingest.ocr import engine_installed, kept_lines, reading_order
from ingest.stages.read import screen_rows
from rag.types import Frame

needs_engine = pytest.mark.skipif(not engine_installed(), reason="rapidocr + onnxruntime (requirements.txt) missing")

# Three slides, 43 s: frames at 0, 5, ... 40 s. The second's bullet comes in 9 s after it does.
SLIDES = (
    Slide("Quarterly Revenue Review", (Line("Sales grew in every region"),), 12),
    Slide("Roadmap Priorities", (Line("Ship the offline installer first"),
                                 Line("Hire two support engineers", appears_after_s=9)), 20),
    Slide("Shell Commands", (Line("docker compose up", 40, "mono"),), 11, background=(25, 25, 25),
          ink=(150, 230, 150), title_ink=(240, 240, 240)),
)
BULLET_AT_S = 12 + 9
INTERVAL_S = 5.0


def _frames(count: int) -> list[Frame]:
    return [Frame(n * INTERVAL_S, f"/f/{n}.jpg") for n in range(count)]


def test_unchanged_text_is_one_row_and_new_text_starts_another():
    title, bullet, late = "Roadmap Priorities", "Ship the offline installer", "Hire two engineers"
    lines = [[title, bullet], [title, bullet], [title.lower(), "Ship the offIine installer"],  # an OCR slip
             [title, bullet, late], [bullet, late],  # the title misread away: the row goes on
             [], ["Other slide"]]
    rows = screen_rows(_frames(len(lines)), lines, INTERVAL_S)
    assert [(n, c.start_s, c.end_s) for n, c in rows] == [(0, 0.0, 15.0), (3, 15.0, 25.0), (6, 30.0, 35.0)]
    assert rows[0][1].text == f"{title}\n{bullet}"
    assert [s.text for s in rows[1][1].segments] == [title, bullet, late]  # a segment per line
    assert all((s.start_s, s.end_s) == (15.0, 25.0) for s in rows[1][1].segments)
    assert screen_rows(_frames(3), [[], [], []], INTERVAL_S) == []


def test_lines_below_the_floor_and_smudges_are_dropped_and_the_rest_read_in_order():
    def box(left, top, right, bottom):
        return [[left, top], [right, top], [right, bottom], [left, bottom]]

    texts = ["right column", "Title", "left column", "blurry", "·", "00:00:10.000", "x = 2 * y"]
    scores = [0.93, 0.99, 0.91, 0.31, 0.95, 0.99, 0.9]
    boxes = [box(700, 200, 900, 240), box(80, 60, 500, 120), box(80, 205, 300, 238), box(80, 400, 200, 430),
             box(600, 600, 610, 610), box(1000, 10, 1200, 40), box(80, 500, 300, 540)]
    kept = kept_lines(texts, scores, boxes, min_confidence=0.6)
    # Numbers alone (a clock) hold no word to search by; a line of code with two letters does.
    assert [line.text for line in kept] == ["Title", "left column", "right column", "x = 2 * y"]
    assert kept[0].confidence == pytest.approx(0.99) and kept[0].box == (80, 60, 500, 120)
    assert reading_order([]) == []


def test_a_still_slide_looks_the_same_and_a_new_bullet_does_not(tmp_path):
    from evals.slides import render
    from ingest.stages.read import _thumbnail, same_picture

    slide = SLIDES[1]
    render(slide, [slide.lines[0]]).save(tmp_path / "a.jpg", quality=70)
    render(slide, [slide.lines[0]]).save(tmp_path / "b.jpg", quality=95)  # the same slide, encoded otherwise
    render(slide, list(slide.lines)).save(tmp_path / "c.jpg", quality=70)
    a, b, c = (_thumbnail(str(tmp_path / f"{name}.jpg")) for name in "abc")
    assert same_picture(a, b) and not same_picture(a, c)


@needs_engine
def test_the_engine_reads_a_slide_and_finds_nothing_on_a_picture_without_text(tmp_path):
    from evals.slides import render
    from ingest.ocr import load_reader
    from rag.settings import Settings

    slide = SLIDES[1]
    render(slide, list(slide.lines)).save(tmp_path / "slide.png")
    settings = Settings(_env_file=None)
    reader = load_reader(settings.ocr_max_side, settings.ocr_min_confidence)
    lines = reader.read(str(tmp_path / "slide.png"))
    assert [line.text for line in lines] == [slide.title, *(line.text for line in slide.lines)]
    assert all(line.confidence >= settings.ocr_min_confidence for line in lines)
    ffmpeg("-f", "lavfi", "-i", "color=c=0x336699:s=640x360", "-frames:v", "1", str(tmp_path / "plain.jpg"))
    assert reader.read(str(tmp_path / "plain.jpg")) == []


def test_screen_rows_are_told_apart_by_their_ids_where_the_collection_has_no_source_field():
    from rag.store import frame_text_number, row_source

    assert row_source({"id": "3f75b734:s12"}) == "screen" and frame_text_number("3f75b734:s12") == ("screen", 12)
    assert row_source({"id": "3f75b734:d4"}) == "visual" and row_source({"id": "3f75b734:t0"}) == "speech"
    assert frame_text_number("3f75b734:t0") is None and row_source({"id": "a:s1", "source": "screen"}) == "screen"


def _ingestor(tmp_path, **overrides):
    from ingest.pipeline import Ingestor
    from rag.settings import Settings

    return Ingestor(Settings(data_dir=tmp_path / "data", summarize="off", describe="off", **overrides))


@pytest.fixture
def deck(tmp_path):
    video, suite = build(tmp_path / "deck", SLIDES, name="roadmap")
    return video, [json.loads(line) for line in suite.read_text().splitlines()]


@needs_engine
def test_a_silent_deck_is_found_by_the_words_on_its_slides(settings, tmp_path, deck):
    from rag import Library

    video, cases = deck
    ingestor = _ingestor(tmp_path, ocr="auto")
    result = ingestor.add(video)
    store = ingestor.store
    assert result.video.extra["screen_read"].startswith("rapidocr ")
    rows = store.client.query("vidrag_text", filter=f'video_id == "{result.video.id}"',
                              output_fields=["id", "start_s", "end_s", "text", "source"], limit=100)
    assert rows and {row["source"] for row in rows} == {"screen"}  # no speech: screen text only
    by_start = sorted(rows, key=lambda row: row["start_s"])
    assert [row["text"].splitlines()[0] for row in by_start] == [
        "Quarterly Revenue Review", "Roadmap Priorities", "Roadmap Priorities", "Shell Commands"]
    assert by_start[0]["start_s"] == 0.0 and by_start[0]["end_s"] == pytest.approx(15, abs=1)  # 3 frames, 1 row
    assert "Hire two support engineers" not in by_start[1]["text"]
    assert BULLET_AT_S <= by_start[2]["start_s"] <= BULLET_AT_S + INTERVAL_S  # from the frame it appears in

    searcher = Library(ingestor.settings, store=store).searcher
    for case in cases:
        for signals in (("dense",), ("bm25",)):
            top = searcher.search(case["question"], k=3, signals=signals)[0]
            assert abs(top.start_s - case["start_s"]) <= INTERVAL_S + 1e-6, (case, signals, top)
            assert case["question"] in top.screen.splitlines() and top.text == ""
    said, seen, screen = store.video_text(result.video.id)
    assert said == seen == [] and len(screen) == 4
    store.close()


@needs_engine
def test_a_video_without_text_gets_no_rows_but_counts_as_read(settings, tmp_path):
    video = tmp_path / "sky.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x4477aa:s=320x180:r=5:d=15", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           str(video))
    ingestor = _ingestor(tmp_path, ocr="on")
    result = ingestor.add(video)
    assert result.warnings == ["no audio stream: indexed the frames only"]
    assert ingestor.store.frame_text_ids(result.video.id, "screen") == {}
    assert result.video.extra["screen_read"].startswith("rapidocr ")
    ingestor.store.close()


@needs_engine
def test_vidrag_read_fills_in_a_video_indexed_without_it_and_changes_nothing_after(settings, tmp_path, deck):
    from ingest.backfill import read_backfill

    video, _ = deck
    ingestor = _ingestor(tmp_path, ocr="off")
    indexed = ingestor.add(video).video
    store = ingestor.store
    assert "screen_read" not in indexed.extra and store.frame_text_ids(indexed.id, "screen") == {}

    def interrupt(stage, done, total):
        if done == 3:
            raise KeyboardInterrupt  # Ctrl-C while the frames are read

    with pytest.raises(KeyboardInterrupt):
        read_backfill(ingestor, indexed, progress=interrupt)
    assert store.frame_text_ids(indexed.id, "screen") == {}  # nothing half-written
    assert "screen_read" not in store.get_video(indexed.id).extra

    first = read_backfill(ingestor, store.get_video(indexed.id))
    assert first.newly_read and first.rows == 4 and first.warning == ""
    ids = store.frame_text_ids(indexed.id, "screen")
    assert len(ids) == 4 and store.get_video(indexed.id).extra["screen_read"].startswith("rapidocr ")
    again = read_backfill(ingestor, store.get_video(indexed.id))
    assert not again.newly_read and again.rows == 4
    forced = read_backfill(ingestor, store.get_video(indexed.id), force=True)
    assert forced.newly_read and store.frame_text_ids(indexed.id, "screen") == ids  # same rows, no copies
    assert store.count_rows(indexed.id)["vidrag_text"] == 4
    store.close()


@pytest.mark.slow
@needs_engine
def test_the_eval_deck_is_found_by_its_words_at_the_targets(settings, tmp_path):
    """evals/slides.py's deck, ingested with no VLM: every title first and at least 90% of the
    phrases in the top 3, each moment starting within one frame interval of the words."""
    from evals.slides import build
    from rag import Library
    from rag.eval import load_suite, resolve_videos, score_search

    video, suite = build(tmp_path / "deck")
    ingestor = _ingestor(tmp_path, ocr="auto")
    ingestor.add(video)
    cases = load_suite(suite)
    ids = resolve_videos(cases, ingestor.store.list_videos())
    searcher = Library(ingestor.settings, store=ingestor.store).searcher
    for signals in ("dense", "bm25"):
        scores = score_search(searcher, cases, ids, signals, k=5)
        assert scores.hits_at(1, "title") == 1.0 and scores.hits_at(3, "phrase") >= 0.9, (signals, scores.ranks)
    # The whole search too, with the tests' random-weight CLIP voting noise: a title quoted word
    # for word outranks a frame's vote ("phrase" in rag/retrieval/search.py's WEIGHTS).
    fused = score_search(searcher, cases, ids, "fusion", k=5)
    assert fused.hits_at(1, "title") == 1.0 and fused.hits_at(3, "phrase") >= 0.9, fused.ranks
    ingestor.store.close()


@needs_engine
@pytest.mark.parametrize("batch", [2, 3])
def test_frames_read_in_pieces_give_the_rows_read_one_after_another(tmp_path, settings, monkeypatch, batch):
    """What a long video's frames on Ray go through (Work.map, here one piece after another):
    batches that each start by reading their first frame, joined as if read in one go."""
    from evals.slides import render
    from ingest.distributed.recording import RecordingStore
    from ingest.stages import read
    from rag.models import load_text_embedder

    first, second, third = SLIDES
    pictures = [render(first, list(first.lines))] * 3 + [render(second, [second.lines[0]])] * 2 + [
        render(second, list(second.lines))] * 2 + [None] + [render(third, list(third.lines))] * 2
    frames = []
    for number, picture in enumerate(pictures):
        path = tmp_path / f"{number}.jpg"
        if picture is None:
            path.write_text("not a picture")  # a frame that fails: the next one is read again
        else:
            picture.save(path, quality=70 + number)  # each encoded a little differently, as video frames are
        frames.append(Frame(number * INTERVAL_S, str(path)))
    text_model = load_text_embedder(settings.text_model, "cpu")

    def outcome(pieces):
        store = RecordingStore()
        result = read.read_video(settings, store, text_model, "v", frames, pieces=pieces)
        return (result.rows, result.starts, result.warning), [(c.start_s, c.end_s, c.text) for _, c in
                                                            store.calls[0][1][2]]

    in_one_go = outcome(None)
    monkeypatch.setattr(read, "READ_BATCH", batch)
    pieces = []

    def one_after_another(function, items):
        pieces.extend(items)
        return [function(settings, "cpu", item) for item in items]

    assert outcome(one_after_another) == in_one_go
    assert len(pieces) == -(-len(frames) // batch) and in_one_go[0][0] == 4  # 3 slides, one bullet later
    assert "1 of 10 frames not read" in in_one_go[0][2]
