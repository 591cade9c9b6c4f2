"""The embeddings stage: the transcript cut into chunks, and a vector for each chunk, each of its
segments (so search can narrow a hit to its sentence without the model) and each frame."""

from __future__ import annotations

from collections.abc import Callable

from ingest.chunks import chunk_segments
from rag.models import load_clip_embedder

NAME = "embeddings"
EMBED_BATCH = 32  # frames or chunks per embedding call, between progress reports


def run(work) -> None:
    report = work.reporter(NAME)
    text_model = work.text_model
    work.chunks = chunk_segments(work.transcript.segments, text_model.max_tokens, text_model.count_tokens)
    texts = len(work.chunks) + sum(len(c.segments) for c in work.chunks)
    total = texts + len(work.frames)
    work.chunk_vectors, work.segment_vectors = embed_chunks(text_model, work.chunks,
                                                            on_batch=lambda done: report(done, total))
    # The frames in batches, a batch a piece: on Ray, a long video's batches embed at once.
    batches = [[f.path for f in work.frames[i : i + EMBED_BATCH]] for i in range(0, len(work.frames), EMBED_BATCH)]
    done = work.map(embed_frame_batch, batches,
                    on_done=lambda count: report(texts + min(count * EMBED_BATCH, len(work.frames)), total))
    work.image_vectors = [vector for batch in done for vector in batch]


def embed_frame_batch(settings, device: str, paths: list[str]) -> list:
    """CLIP vectors of some frames (a piece of the stage, wherever it runs)."""
    clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, device)
    return list(clip.embed_images(paths))


def embed_chunks(text_model, chunks, on_batch: Callable[[int], None] | None = None):
    """Vectors for each chunk, and for each chunk's segments: (chunk vectors, [segment vectors
    per chunk])."""
    texts = [c.text for c in chunks] + [s.text for c in chunks for s in c.segments]
    vectors = []
    for i in range(0, len(texts), EMBED_BATCH):
        vectors.extend(text_model.embed(texts[i : i + EMBED_BATCH]))
        if on_batch:
            on_batch(len(vectors))
    per_chunk, at = [], len(chunks)
    for chunk in chunks:
        per_chunk.append(vectors[at : at + len(chunk.segments)])
        at += len(chunk.segments)
    return vectors[: len(chunks)], per_chunk
