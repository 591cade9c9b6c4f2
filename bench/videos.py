"""Whole-video search at library scale: N one-minute synthetic videos (two transcript chunks, a
frame every 5 s) written straight into the store with random unit vectors, then the video-level
vectors computed as ingest computes them. Times `rag videos` (query embedding, moment search and
both video-level searches), `rag similar`, and what one Library page reads (the registry, then
thumbnails and summaries of 24 cards by id)."""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.retrieval import question, sentence
from bench.stats import percentile
from rag.store import VIDEO_LEVEL_COLLECTIONS
from rag.types import Chunk, Frame, Segment, Video

VIDEO_S = 60.0
FRAME_INTERVAL_S = 5.0
SEGMENT_S = 5.0
CHUNK_S = 30.0
CARDS_PER_PAGE = 24
WARMUP = 3


def _unit(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build(library, count: int, text_model, clip) -> float:
    """Write `count` videos; returns the mean time per video to write its video-level vectors."""
    from rag.store.videos import VideoIndex

    store, index = library.store, VideoIndex(library.store)
    store.ensure_collection("text", text_model.name, text_model.dim)
    store.ensure_collection("image", clip.name, clip.dim)
    words, vectors = random.Random(7), np.random.default_rng(7)
    refresh_s = 0.0
    for number in range(count):
        video_id = f"synthetic{number:05d}"
        chunks = []
        for start in np.arange(0, VIDEO_S, CHUNK_S):
            segments = tuple(Segment(float(t), float(t + SEGMENT_S - 0.2), sentence(words))
                             for t in np.arange(start, start + CHUNK_S, SEGMENT_S))
            chunks.append(Chunk(segments[0].start_s, segments[-1].end_s, " ".join(s.text for s in segments), segments))
        chunk_vectors = _unit(vectors, len(chunks), text_model.dim)
        store.insert_chunks(video_id, chunks, chunk_vectors,
                            [_unit(vectors, len(c.segments), text_model.dim) for c in chunks])
        frames = [Frame(float(t), f"frames/{video_id}/{i:06d}.jpg")
                  for i, t in enumerate(np.arange(0, VIDEO_S, FRAME_INTERVAL_S))]
        frame_vectors = _unit(vectors, len(frames), clip.dim)
        store.insert_frames(video_id, frames, frame_vectors)
        started = time.perf_counter()
        index.put_vectors(video_id, {"image": frame_vectors, "text": chunk_vectors})  # as ingest does
        refresh_s += time.perf_counter() - started
        store.commit_video(Video(video_id, f"clip {number}.mp4", "", VIDEO_S, len(frames), len(chunks), "en",
                                 created=f"2026-01-01T00:{number // 60 % 60:02d}:{number % 60:02d}+00:00"))
        if number % 100 == 99:
            print(f"{number + 1} videos written", file=sys.stderr, flush=True)
    store.flush()  # a library at rest: Milvus has sealed what was written
    for name in VIDEO_LEVEL_COLLECTIONS:
        if store._has(name):
            store.client.flush(name)
    return refresh_s / count


def _latencies(calls) -> dict:
    times = []
    for i, call in enumerate(calls):
        started = time.perf_counter()
        call()
        if i >= WARMUP:  # the first calls load models and warm caches
            times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1)}


def run(videos: int = 1000, queries: int = 20) -> dict:
    import rag
    from rag.models import load_clip_embedder, load_text_embedder
    from rag.settings import load_settings
    from rag.store.videos import VideoIndex
    from rag.videos.search import search_videos, similar_videos

    with tempfile.TemporaryDirectory(prefix="bench-videos-") as data_dir:
        settings = load_settings(data_dir=Path(data_dir))
        device = settings.resolved_device()
        text_model = load_text_embedder(settings.text_model, device)
        clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, device)
        library = rag.Library(settings)
        started = time.perf_counter()
        refresh_s = build(library, videos, text_model, clip)
        build_s = time.perf_counter() - started
        rng = random.Random(42)
        asked = [question(rng) for _ in range(queries + WARMUP)]
        ids = [f"synthetic{rng.randrange(videos):05d}" for _ in range(queries + WARMUP)]
        store = library.store

        def library_page(page: int) -> None:
            shown = store.list_videos()[page * CARDS_PER_PAGE : (page + 1) * CARDS_PER_PAGE]
            store.frames_by_index([(v.id, v.frames // 2) for v in shown])
            VideoIndex(store).summaries([v.id for v in shown])

        result = {
            "videos": videos,
            "build_s": round(build_s, 1),
            "video_vectors_per_add_ms": round(refresh_s * 1000, 1),
            "rag_videos": _latencies([lambda q=q: search_videos(library, q, k=10) for q in asked]),
            "rag_similar": _latencies([lambda v=v: similar_videos(library, v, k=10) for v in ids]),
            "library_page": _latencies([lambda p=p: library_page(p) for p in range(queries + WARMUP)]),
            "queries": queries,
            "device": device,
        }
        library.close()
    return result
