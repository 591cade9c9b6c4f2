"""Merge transcript segments into chunks for the text model, keeping every segment's times."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag.types import Chunk, Segment

WINDOW_S = 30.0  # longest stretch of speech in one chunk (seconds)
TOKEN_MARGIN = 8  # room for the model's own [CLS]/[SEP] tokens


def chunk_segments(
    segments: Sequence[Segment],
    max_tokens: int,
    count_tokens: Callable[[str], int],
    window_s: float = WINDOW_S,
) -> list[Chunk]:
    """Consecutive segments, grouped while the group spans at most `window_s` seconds and its text
    fits `max_tokens`. A single segment too long on its own becomes a chunk by itself."""
    budget = max(16, max_tokens - TOKEN_MARGIN)
    chunks: list[Chunk] = []
    group: list[Segment] = []
    tokens = 0
    for segment in segments:
        needed = count_tokens(segment.text)
        too_long = group and (segment.end_s - group[0].start_s > window_s or tokens + needed > budget)
        if too_long:
            chunks.append(_chunk(group))
            group, tokens = [], 0
        group.append(segment)
        tokens += needed
    if group:
        chunks.append(_chunk(group))
    return chunks


def _chunk(group: list[Segment]) -> Chunk:
    text = " ".join(s.text for s in group)
    return Chunk(group[0].start_s, max(s.end_s for s in group), text, tuple(group))
