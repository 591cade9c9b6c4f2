"""Search latency on a synthetic library of H video-hours: frames at 0.2 fps, a transcript chunk
about every 30 s, and talk made of varied sentences. Query embedding is included."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.stats import percentile
from ingest.pipeline import embed_chunks
from rag.types import Chunk, Frame, Segment, Video

FRAME_INTERVAL_S = 5.0
CHUNK_S = 30.0
SEGMENT_S = 5.0
QUERIES = 40
WARMUP = 3

SUBJECTS = ["the chef", "our guest", "the engineer", "a small bird", "the committee", "the rover", "my neighbour",
            "the old bridge", "the orchestra", "the goalkeeper", "the startup", "the glacier", "the patient",
            "the city council", "the telescope", "the river", "the farmer", "the museum", "the pilot", "the robot"]
VERBS = ["explains", "repairs", "describes", "builds", "measures", "questions", "celebrates", "tests", "paints",
         "moves", "discovers", "cooks", "protects", "records", "designs", "cleans", "plans", "sells"]
OBJECTS = ["a sourdough loaf", "the broken engine", "the quarterly budget", "a wooden boat", "the solar panels",
           "the ancient map", "a violin concerto", "the penalty kick", "the flood defences", "a new vaccine",
           "the night sky", "the harvest", "a marble statue", "the landing gear", "the delivery drones",
           "the city park", "the climate data", "a chess opening", "the library archive", "the coral reef"]
PLACES = ["in the kitchen", "at the harbour", "before sunrise", "in the workshop", "on the mountain",
          "during the storm", "at the stadium", "in the laboratory", "near the station", "after lunch"]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)}."


def question(rng: random.Random) -> str:
    return f"When does {rng.choice(SUBJECTS)} {rng.choice(VERBS).rstrip('s')} {rng.choice(OBJECTS)}?"


def build_library(library, hours: float, rng: random.Random, text_model, clip_dim: int, clip_name: str
                  ) -> tuple[int, int]:
    """Write the synthetic videos straight into the store; returns the number of frames and of
    transcript chunks."""
    store = library.store
    store.ensure_collection("text", text_model.name, text_model.dim)
    store.ensure_collection("image", clip_name, clip_dim)
    remaining, number, frames_total, chunks_total = hours * 3600, 0, 0, 0
    while remaining > 0:
        seconds = min(3600.0, remaining)
        remaining -= seconds
        video_id = f"synthetic{number:05d}"
        chunks = []
        for start in np.arange(0, seconds, CHUNK_S):
            segments = tuple(Segment(float(t), float(t + SEGMENT_S - 0.2), sentence(rng))
                             for t in np.arange(start, min(start + CHUNK_S, seconds), SEGMENT_S))
            chunks.append(Chunk(segments[0].start_s, segments[-1].end_s, " ".join(s.text for s in segments), segments))
        store.insert_chunks(video_id, chunks, *embed_chunks(text_model, chunks))  # as ingest does
        frames = [Frame(float(t), f"frames/{video_id}/{i:06d}.jpg")
                  for i, t in enumerate(np.arange(0, seconds, FRAME_INTERVAL_S))]
        vectors = np.random.default_rng(number).standard_normal((len(frames), clip_dim)).astype(np.float32)
        store.insert_frames(video_id, frames, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        store.commit_video(Video(video_id, f"talk {number}.mp4", "", seconds, len(frames), len(chunks), "en"))
        frames_total += len(frames)
        chunks_total += len(chunks)
        number += 1
    store.flush()  # a library at rest: Milvus has sealed what was written
    return frames_total, chunks_total


def run(hours: float = 1.0, queries: int = QUERIES) -> dict:
    import rag
    from rag.models import load_clip_embedder, load_text_embedder
    from rag.settings import load_settings

    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as data_dir:
        settings = load_settings(data_dir=Path(data_dir))
        device = settings.resolved_device()
        text_model = load_text_embedder(settings.text_model, device)
        clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, device)
        library = rag.Library(settings)
        started = time.perf_counter()
        frames, text_chunks = build_library(library, hours, rng, text_model, clip.dim, clip.name)
        build_s = time.perf_counter() - started
        asked = [question(rng) for _ in range(queries + WARMUP)]
        latencies = []
        for i, text in enumerate(asked):
            start = time.perf_counter()
            moments = library.search(text)
            elapsed = time.perf_counter() - start
            if i >= WARMUP:  # the first searches load models and warm caches
                latencies.append(elapsed * 1000)
            assert moments, "the synthetic library should always match something"
        library.close()
    return {
        "hours": hours,
        "frames": frames,
        "text_chunks": text_chunks,
        "build_s": round(build_s, 1),
        "queries": queries,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "min_ms": round(min(latencies), 1),
        "device": device,
    }
