"""What vidrag knows about whole videos, beside its moments: a summary with chapters, and one
vector per video for each embedding space (the normalized mean of its frames' CLIP vectors, and
of its text rows' MiniLM vectors: transcript chunks and, where the describe stage ran, frame
descriptions).

Each lives in a collection of its own, keyed by the video id, so libraries built before these
existed keep opening unchanged: the collections are created on first write, and a video without
vectors (an older library) gets them the first time video-level search needs them.
`Store.delete_video` removes a video's rows here too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.store import (
    ID_LENGTH,
    IMAGE_COLLECTION,
    QUERY_LIMIT,
    SUMMARY_COLLECTION,
    TEXT_COLLECTION,
    VECTOR_METRIC,
    VIDEO_IMAGE_COLLECTION,
    VIDEO_TEXT_COLLECTION,
    Store,
)

VIDEO_VECTOR_COLLECTIONS = {"image": VIDEO_IMAGE_COLLECTION, "text": VIDEO_TEXT_COLLECTION}
SOURCE_COLUMNS = {"image": (IMAGE_COLLECTION, "vector"), "text": (TEXT_COLLECTION, "dense")}
PLACEHOLDER_DIM = 2  # Milvus wants a vector field even in the summaries' collection


@dataclass(frozen=True)
class VideoHit:
    video_id: str
    similarity: float  # cosine similarity of the video-level vectors


class VideoIndex:
    """Summaries and video-level vectors, over one Store."""

    def __init__(self, store: Store):
        self.store = store
        self.client = store.client
        self._loaded: set[str] = set()

    # --- collections -----------------------------------------------------------------------

    def _ready(self, name: str, dim: int | None = None) -> bool:
        """Whether `name` exists (and is loaded); with `dim`, create it when it doesn't."""
        if not self.store._has(name):
            if dim is None:
                return False
            self.store._create(name, _video_level_schema(self.client, dim))
        if name not in self._loaded:  # a reopened database starts with its collections released
            self.client.load_collection(name)
            self._loaded.add(name)
        return True

    # --- summaries -------------------------------------------------------------------------

    def put_summary(self, video_id: str, summary: dict) -> None:
        self._ready(SUMMARY_COLLECTION, PLACEHOLDER_DIM)
        self.client.upsert(SUMMARY_COLLECTION, [{"video_id": video_id, "info": summary,
                                                 "vector": [0.0] * PLACEHOLDER_DIM}])

    def get_summary(self, video_id: str) -> dict | None:
        return self.summaries([video_id]).get(video_id)

    def summaries(self, video_ids: Sequence[str]) -> dict[str, dict]:
        """The stored summaries of these videos (those that have one), by id, in one lookup."""
        if not video_ids or not self._ready(SUMMARY_COLLECTION):
            return {}
        rows = self.client.get(SUMMARY_COLLECTION, ids=list(video_ids), output_fields=["video_id", "info"])
        return {row["video_id"]: row["info"] for row in rows}

    # --- video-level vectors ---------------------------------------------------------------

    def put_vectors(self, video_id: str, vectors: dict[str, Sequence]) -> None:
        """The video's vectors from its rows' vectors at hand ({"image": frames', "text": chunks'}),
        as ingest has them: no query back (Milvus Lite scans rows not yet flushed one by one)."""
        for kind, rows in vectors.items():
            mean = mean_vector(rows)
            if mean is not None:
                self._ready(VIDEO_VECTOR_COLLECTIONS[kind], len(mean))
                self.client.upsert(VIDEO_VECTOR_COLLECTIONS[kind],
                                   [{"video_id": video_id, "info": {}, "vector": mean.tolist()}])

    def refresh(self, video_id: str) -> None:
        """Recompute the video's vectors from its stored rows: after an add, after the describe
        stage writes descriptions, or for a video an older library has no vectors for."""
        for kind, (source, field) in SOURCE_COLUMNS.items():
            target = VIDEO_VECTOR_COLLECTIONS[kind]
            mean = self._mean(source, field, video_id)
            if mean is None:
                if self._ready(target):
                    self.client.delete(target, filter=f"video_id == {json.dumps(video_id)}")
                continue
            self._ready(target, len(mean))
            self.client.upsert(target, [{"video_id": video_id, "info": {}, "vector": mean.tolist()}])

    def _mean(self, collection: str, field: str, video_id: str) -> np.ndarray | None:
        if not self.store._has(collection):
            return None
        rows = self.client.query(collection, filter=f"video_id == {json.dumps(video_id)}", output_fields=[field],
                                 limit=QUERY_LIMIT)
        return mean_vector([row[field] for row in rows])

    def vector(self, kind: str, video_id: str) -> np.ndarray | None:
        if not self._ready(VIDEO_VECTOR_COLLECTIONS[kind]):
            return None
        rows = self.client.get(VIDEO_VECTOR_COLLECTIONS[kind], ids=[video_id], output_fields=["vector"])
        return np.asarray(rows[0]["vector"], dtype=np.float32) if rows else None

    def missing(self, video_ids: Sequence[str]) -> list[str]:
        """Videos with no video-level vector of either kind (an older library's, say)."""
        have: set[str] = set()
        for name in VIDEO_VECTOR_COLLECTIONS.values():
            if video_ids and self._ready(name):
                have |= {row["video_id"] for row in self.client.get(name, ids=list(video_ids),
                                                                       output_fields=["video_id"])}
        return [vid for vid in video_ids if vid not in have]

    def nearest(self, kind: str, vector, limit: int) -> list[VideoHit]:
        """Videos whose `kind` vector is nearest `vector`, best first."""
        name = VIDEO_VECTOR_COLLECTIONS[kind]
        if not self._ready(name):
            return []
        hits = self.client.search(name, data=[[float(x) for x in vector]], anns_field="vector", limit=limit,
                                  output_fields=["video_id"], search_params={"metric_type": VECTOR_METRIC})
        return [VideoHit(hit["entity"]["video_id"], float(hit["distance"])) for hit in hits[0]]


def mean_vector(vectors: Sequence) -> np.ndarray | None:
    """The normalized mean of normalized vectors: the direction they share (None for none)."""
    if len(vectors) == 0:
        return None
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else None


def _video_level_schema(client, dim: int):
    """One row per video: its id, a JSON document and a vector (a placeholder for summaries)."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("video_id", DataType.VARCHAR, max_length=ID_LENGTH, is_primary=True)
    schema.add_field("info", DataType.JSON)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type=VECTOR_METRIC)
    return schema, index
