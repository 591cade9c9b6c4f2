"""Search latency on a synthetic library of H video-hours: frames at 0.2 fps, a transcript chunk
about every 30 s, and talk made of varied sentences. Query embedding is included.

The same library can be searched in several stores in one run (`uris`: "lite" for the embedded
Milvus Lite as vidrag runs it, "lite-published" for Milvus Lite without vidrag's faster live-row
checks (rag/lite_speedup), or a server's URL), one question at a time on each in turn, so that the
machine's load falls on all of them alike."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.media import CACHE
from bench.stats import percentile
from rag.models import model_label
from rag.store import lite_speedup
from rag.types import Chunk, Frame, Segment, Video

FRAME_INTERVAL_S = 5.0
CHUNK_S = 30.0
SEGMENT_S = 5.0
QUERIES = 40
WARMUP = 3
LIBRARY_FORMAT = 1  # raise when the synthetic library changes: cached Milvus Lite copies go stale
LITE_STORES = ("lite", "lite-published")  # embedded stores: vidrag's, and Milvus Lite as published

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
# The store calls a search makes, and the two query encoders: each is timed on its own.
STORE_STEPS = ("list_videos", "search_text", "search_frames", "frames_by_index", "frames_within", "chunks_within")


def phrases(rng: random.Random) -> tuple[str, ...]:
    """A sentence's four phrases: subject, verb, object, place."""
    return rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(PLACES)


def as_sentence(words: tuple[str, ...]) -> str:
    return f"{words[0].capitalize()} {words[1]} {words[2]} {words[3]}."


def sentence(rng: random.Random) -> str:
    return as_sentence(phrases(rng))


def question(rng: random.Random) -> str:
    return f"When does {rng.choice(SUBJECTS)} {rng.choice(VERBS).rstrip('s')} {rng.choice(OBJECTS)}?"


def talk(number: int, seconds: float, phrase_vectors: dict[str, np.ndarray]
         ) -> tuple[list[Chunk], np.ndarray, list[np.ndarray]]:
    """Video `number`'s transcript with its chunk and segment vectors. A sentence's vector is the
    normalized sum of its phrases' MiniLM vectors, a chunk's the normalized mean of its sentences':
    the shapes and much of the geometry of what ingest stores, without embedding the 84,000
    sentences of 100 hours (3.5 minutes per hour of talk on this shared machine)."""
    rng = random.Random(f"vidrag-bench-{number}")
    chunks, chunk_vectors, segment_vectors = [], [], []
    for start in np.arange(0, seconds, CHUNK_S):
        said = [phrases(rng) for _ in np.arange(start, min(start + CHUNK_S, seconds), SEGMENT_S)]
        segments = tuple(Segment(float(start + i * SEGMENT_S), float(start + (i + 1) * SEGMENT_S - 0.2),
                                 as_sentence(p)) for i, p in enumerate(said))
        chunks.append(Chunk(segments[0].start_s, segments[-1].end_s, " ".join(s.text for s in segments), segments))
        vectors = _normalized(np.stack([sum(phrase_vectors[w] for w in p) for p in said]))
        segment_vectors.append(vectors.astype(np.float16))  # as the store keeps them
        chunk_vectors.append(_normalized(vectors.mean(axis=0)))
    return chunks, np.stack(chunk_vectors), segment_vectors


def _normalized(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def videos(hours: float) -> list[tuple[int, float]]:
    """(number, seconds) of each synthetic video: an hour each, the last one shorter."""
    whole, rest = divmod(round(hours * 3600), 3600)
    return [(n, 3600.0) for n in range(int(whole))] + ([(int(whole), float(rest))] if rest else [])


def build_library(store, hours: float, text_model, clip_dim: int, clip_name: str) -> tuple[int, int]:
    """Write the synthetic videos into the store; returns the number of frames and of
    transcript chunks."""
    store.ensure_collection("text", text_model.name, text_model.dim)
    store.ensure_collection("image", clip_name, clip_dim)
    all_phrases = SUBJECTS + VERBS + OBJECTS + PLACES
    phrase_vectors = dict(zip(all_phrases, text_model.embed(all_phrases), strict=True))
    frames_total, chunks_total = 0, 0
    for number, seconds in videos(hours):
        video_id = f"synthetic{number:05d}"
        chunks, chunk_vectors, segment_vectors = talk(number, seconds, phrase_vectors)
        store.insert_chunks(video_id, chunks, chunk_vectors, segment_vectors)
        frames = [Frame(float(t), f"frames/{video_id}/{i:06d}.jpg")
                  for i, t in enumerate(np.arange(0, seconds, FRAME_INTERVAL_S))]
        vectors = np.random.default_rng(number).standard_normal((len(frames), clip_dim)).astype(np.float32)
        store.insert_frames(video_id, frames, _normalized(vectors))
        store.commit_video(Video(video_id, f"talk {number}.mp4", "", seconds, len(frames), len(chunks), "en"))
        frames_total += len(frames)
        chunks_total += len(chunks)
    store.flush()  # a library at rest: Milvus has sealed what was written
    return frames_total, chunks_total


class Steps:
    """Times named calls of each store's searches, from whichever thread makes them: `label` says
    whose search is running (the query encoders are shared by all stores)."""

    def __init__(self):
        self.ms: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.label: str | None = None  # None: not recording
        self._lock = threading.Lock()

    def wrap(self, owner, method: str, name=None) -> None:
        """Time `owner.method`; `name(args)` may name a call after its arguments."""
        original = getattr(owner, method)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - start) * 1000
                if self.label is not None:
                    with self._lock:
                        self.ms[self.label][name(args) if name else method].append(elapsed)

        setattr(owner, method, timed)

    def summary(self, label: str, searches: int) -> dict:
        """Median ms of each step, and how many calls a search made of it."""
        return {name: {"median_ms": round(statistics.median(ms), 1), "calls_per_search": round(len(ms) / searches, 2)}
                for name, ms in sorted(self.ms[label].items())}


def run(hours: float = 1.0, queries: int = QUERIES, uris: tuple[str, ...] = ("lite",)) -> dict:
    """Build the library in each store of `uris` (LITE_STORES or a server URL), then ask each the same
    questions in turn. Returns the figures of the first store, with the others' under "stores"
    when there are several."""
    from rag.models import load_clip_embedder, load_text_embedder
    from rag.settings import load_settings

    rng = random.Random(42)
    steps = Steps()
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as data_dir:
        base = load_settings(data_dir=Path(data_dir))
        device = base.resolved_device()
        text_model = load_text_embedder(base.text_model, device)
        clip = load_clip_embedder(base.clip_model, base.clip_pretrained, device)
        libraries, results = {}, {}
        try:
            for uri in uris:
                lite = uri in LITE_STORES
                settings = base.model_copy(update={"milvus_uri": "" if lite else uri,
                                                   "data_dir": base.data_dir / uri if lite else base.data_dir})
                started = time.perf_counter()
                library, frames, text_chunks = _library(settings, uri, hours, text_model, clip)
                libraries[uri] = library
                results[uri] = {"store": uri, "hours": hours, "frames": frames, "text_chunks": text_chunks,
                                "build_s": round(time.perf_counter() - started, 1)}
                for method in STORE_STEPS:
                    steps.wrap(library.store, method, (lambda args: f"search_text {args[1]}")
                               if method == "search_text" else None)
            steps.wrap(text_model, "embed_query", lambda args: "minilm embed")  # a question's vector
            steps.wrap(clip, "embed_text", lambda args: "clip embed_text")
            asked = [question(rng) for _ in range(queries + WARMUP)]
            latencies = {uri: [] for uri in uris}
            for i, text in enumerate(asked):
                for uri in uris:
                    warm = i >= WARMUP  # the first searches load models and warm caches
                    steps.label = uri if warm else None
                    lite_speedup.uninstall() if uri == "lite-published" else lite_speedup.install()
                    start = time.perf_counter()
                    moments = libraries[uri].search(text)
                    elapsed = (time.perf_counter() - start) * 1000
                    steps.label = None
                    if warm:
                        latencies[uri].append(elapsed)
                    assert moments, "the synthetic library should always match something"
        finally:
            for attribute in ("embed_query", "embed_text"):
                vars(text_model).pop(attribute, None)
                vars(clip).pop(attribute, None)
            lite_speedup.install()
            for uri, library in libraries.items():
                if uri not in LITE_STORES:
                    _drop_collections(library.store)
                library.close()
    for uri in uris:
        ms = latencies[uri]
        results[uri].update(queries=queries, p50_ms=round(percentile(ms, 50), 1),
                            p95_ms=round(percentile(ms, 95), 1), min_ms=round(min(ms), 1),
                            steps=steps.summary(uri, queries), device=device)
    first, *others = [results[uri] for uri in uris]
    return {**first, "stores": others} if others else first


def _library(settings, uri: str, hours: float, text_model, clip):
    """The synthetic library in the store at `uri`: (library, frames, text chunks). A Milvus Lite
    database built before is copied from the cache: writing 100 hours takes many minutes."""
    import shutil

    import milvus_lite

    import rag

    cached = CACHE / (f"retrieval-lite{milvus_lite.__version__}-{hours:g}h-{model_label(text_model.name)}"
                      f"-{model_label(clip.name)}-v{LIBRARY_FORMAT}")
    target = Path(settings.milvus_target)
    if uri in LITE_STORES and cached.exists():
        shutil.copytree(cached / "milvus.db", target)
        counts = json.loads((cached / "counts.json").read_text())
        return rag.Library(settings), counts["frames"], counts["text_chunks"]
    library = rag.Library(settings)
    _require_empty(library.store, uri)
    frames, text_chunks = build_library(library.store, hours, text_model, clip.dim, clip.name)
    if uri in LITE_STORES:
        library.close()  # a closed database is a consistent copy
        # Milvus Lite builds vector indexes in the background and, for what was not done at close,
        # on the next open (minutes at 100 hours): open once more so the copy has them all.
        rag.Library(settings).close()
        partial = cached.with_name(cached.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(target, partial / "milvus.db")
        (partial / "counts.json").write_text(json.dumps({"frames": frames, "text_chunks": text_chunks}))
        partial.rename(cached)
        library = rag.Library(settings)
    return library, frames, text_chunks


def _require_empty(store, uri: str) -> None:
    """The benchmark writes its own library; on a server holding a real one it would mix with it."""
    if uri not in LITE_STORES and store.list_videos():
        raise SystemExit(f"{uri} holds a vidrag library already; benchmark against an empty Milvus")


def _drop_collections(store) -> None:
    """What the benchmark wrote on a server goes with it."""
    from rag import store as names

    for collection in (names.TEXT_COLLECTION, names.IMAGE_COLLECTION, names.VIDEO_COLLECTION, names.META_COLLECTION):
        store.client.drop_collection(collection)
