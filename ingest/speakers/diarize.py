"""Who spoke when: a voice vector for each piece of the transcript's speech, the pieces grouped
into speakers, and the segments labelled and split with them.

The audio is read again, a window at a time (ingest.audio, 5 minutes each): only the pieces'
vectors are kept, 1 KB each, so a two-hour file takes as little memory as a five-minute one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.speakers.clustering import cluster_voices
from ingest.speakers.pieces import Piece, labelled, pieces_of
from ingest.speakers.voices import DIM, SAMPLE_RATE, embed_stretches
from rag.types import Segment


@dataclass(frozen=True)
class Diarized:
    segments: tuple[Segment, ...]  # labelled, split where the speaker changes
    speakers: int  # how many (0: no speech to tell apart)


def diarize(windows: Iterable[np.ndarray], segments: Sequence[Segment], encoder, method: str = "average",
            on_window: Callable[[float], None] | None = None) -> Diarized:
    """Speakers for `segments`, heard in `windows` (consecutive 16 kHz audio from the file's start)."""
    pieces = pieces_of(segments)
    if not pieces:
        return Diarized(tuple(segments), 0)
    vectors = voice_vectors(windows, pieces, encoder, on_window)
    speakers = cluster_voices(vectors, [p.seconds for p in pieces], method)
    result = labelled(segments, pieces, speakers)
    return Diarized(tuple(result), len({s.speaker for s in result if s.speaker}))


def voice_vectors(windows: Iterable[np.ndarray], pieces: Sequence[Piece], encoder,
                  on_window: Callable[[float], None] | None = None) -> np.ndarray:
    """One voice vector per piece (in time order), from audio read a window at a time. A piece the
    audio does not reach (the stream ended early) gets the vector of the piece before it."""
    vectors = np.zeros((len(pieces), DIM), dtype=np.float32)
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # the sample of the file where `buffer` begins
    next_piece = 0
    for window in windows:
        buffer = np.concatenate([buffer, window]) if len(buffer) else window
        buffer_end = buffer_start + len(buffer)
        ready = next_piece
        while ready < len(pieces) and _sample(pieces[ready].end_s) <= buffer_end:
            ready += 1
        if ready > next_piece:
            stretches = [buffer[max(0, _sample(p.start_s) - buffer_start) : _sample(p.end_s) - buffer_start]
                         for p in pieces[next_piece:ready]]
            vectors[next_piece:ready] = embed_stretches(encoder, stretches)
            next_piece = ready
        # Keep only what the next piece still needs (a segment can run on into the next window).
        keep_from = _sample(pieces[next_piece].start_s) if next_piece < len(pieces) else buffer_end
        drop = min(max(0, keep_from - buffer_start), len(buffer))
        buffer, buffer_start = buffer[drop:].copy(), buffer_start + drop  # a copy: the window itself is let go
        if on_window:
            on_window(buffer_end / SAMPLE_RATE)
    if next_piece < len(pieces):  # the audio ended inside or before the last pieces
        stretches = [buffer[max(0, _sample(p.start_s) - buffer_start) :] for p in pieces[next_piece:]]
        heard = [s for s in stretches if len(s)]  # a prefix: past the audio's end nothing is left
        vectors[next_piece : next_piece + len(heard)] = embed_stretches(encoder, heard)
        for index in range(next_piece + len(heard), len(pieces)):
            vectors[index] = vectors[index - 1] if index else np.full(DIM, DIM**-0.5)
    return vectors


def _sample(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))
