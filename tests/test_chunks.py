"""Chunking: time windows and token limits, every segment keeping its own times."""

from ingest.chunks import chunk_segments
from rag.types import Segment


def words(text: str) -> int:
    return len(text.split())


def test_segments_group_into_30_second_windows():
    segments = [Segment(i * 5.0, i * 5.0 + 4.0, f"sentence {i}") for i in range(20)]  # 100 s of speech
    chunks = chunk_segments(segments, max_tokens=512, count_tokens=words)
    assert all(c.end_s - c.start_s <= 30 for c in chunks)
    assert [s for c in chunks for s in c.segments] == segments  # nothing lost, order kept
    assert chunks[0].start_s == 0 and chunks[0].end_s == chunks[0].segments[-1].end_s
    assert chunks[0].text == " ".join(s.text for s in chunks[0].segments)


def test_token_limit_splits_before_the_window_does():
    segments = [Segment(i, i + 1.0, "one two three four five") for i in range(10)]
    chunks = chunk_segments(segments, max_tokens=8 + 24, count_tokens=words)  # room for 24 words
    assert [len(c.segments) for c in chunks] == [4, 4, 2]


def test_a_long_segment_stands_alone():
    long = Segment(0, 10, "word " * 500)
    chunks = chunk_segments([long, Segment(10, 11, "short")], max_tokens=64, count_tokens=words)
    assert len(chunks) == 2 and chunks[0].segments == (long,)


def test_no_segments_no_chunks():
    assert chunk_segments([], max_tokens=256, count_tokens=words) == []
