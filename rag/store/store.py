"""The Milvus store: text chunks, frames, the registry of videos, and which models built them.

The same code runs against Milvus Lite (a local directory) and a Milvus server. Rows are made
and read by the pure functions of rag/store/schema.py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rag.datadir import check_writable
from rag.errors import ModelMismatchError, StoreError, StoreLockedError, first_line
from rag.settings import Settings
from rag.store import lite_speedup
from rag.store.lite import lite_is_locked, lite_options
from rag.store.schema import (
    BM25_FIELD,
    FRAME_TEXT_SOURCES,
    IMAGE_COLLECTION,
    INSERT_BATCH,
    META_COLLECTION,
    QUERY_LIMIT,
    TEXT_COLLECTION,
    VECTOR_METRIC,
    VIDEO_COLLECTION,
    VIDEO_LEVEL_COLLECTIONS,
    _image_schema,
    _keyed_json_row,
    _keyed_json_schema,
    _text_schema,
    chunk_to_row,
    frame_text_number,
    frame_text_to_row,
    frame_to_row,
    in_videos_filter,
    info_to_video,
    row_source,
    row_to_chunk,
    video_to_info,
    windows_filter,
)
from rag.types import Chunk, Frame, Segment, Video

log = logging.getLogger(__name__)


class VideoText(NamedTuple):
    """All the text of one video, each kind in time order."""

    said: list[Segment]  # the transcript's segments
    seen: list[Segment]  # the frames' descriptions (the describe stage)
    screen: list[Segment]  # what is written on screen (the read stage)


class Store:
    """One connection to Milvus, with the four collections vidrag uses."""

    def __init__(self, settings: Settings):
        # pymilvus imports scipy.sparse lazily on the first search; two threads of the app making
        # their first search at once were seen to deadlock on that import. Import it here, once.
        import scipy.sparse  # noqa: F401
        from pymilvus import MilvusClient

        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        target = settings.milvus_target
        if settings.is_milvus_lite:
            check_writable(Path(target).parent)
            # Milvus Lite serves gRPC inside this process and lacks AllocTimestamp, which pymilvus
            # asks for after creating an index and then does without; grpc logs each as a traceback.
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            lite_speedup.install()  # the same rows, found without walking all of them (issue 14)
        try:
            self.client = MilvusClient(uri=target, token=settings.milvus_token or "", **lite_options(settings))
        except Exception as e:
            if settings.is_milvus_lite and lite_is_locked(Path(target)):
                raise StoreLockedError(
                    f"The Milvus Lite database {target} is in use by another process. Stop that process "
                    "(the app, or another ingest), or set VIDRAG_MILVUS_URI to a Milvus server."
                ) from e
            raise StoreError(f"Cannot open Milvus at {target}: {first_line(e)}") from e
        self.target = target
        # Collections and their model records, once seen, never go away (vidrag never drops
        # them), so they are remembered: each search would otherwise ask Milvus again.
        self._existing: set[str] = set()
        self._creating = threading.Lock()
        self._models: dict[str, dict] = {}
        self._text_fields: set[str] | None = None
        self._ensure_bookkeeping()
        if settings.is_milvus_lite:
            lite_speedup.freeze_long_lived(collect=True)  # the rows Lite loaded stay until close

    # --- collections -----------------------------------------------------------------------

    def _has(self, name: str) -> bool:
        if name not in self._existing and self.client.has_collection(name):
            self._existing.add(name)
        return name in self._existing

    def _ensure_bookkeeping(self) -> None:
        for name in (VIDEO_COLLECTION, META_COLLECTION):
            if not self._has(name):
                self._create(name, _keyed_json_schema(self.client))
        # A reopened database starts with its collections released; queries need them loaded.
        for name in (VIDEO_COLLECTION, META_COLLECTION, TEXT_COLLECTION, IMAGE_COLLECTION, *VIDEO_LEVEL_COLLECTIONS):
            if self._has(name):
                self.client.load_collection(name)

    def _create(self, name: str, schema_and_index) -> None:
        """Create a collection, unless another thread has just done it: callers check `_has`
        first, and two adds at once (Ray's, ingest/distributed/) both saw it missing."""
        schema, index = schema_and_index
        with self._creating:
            if not self.client.has_collection(name):
                self.client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
            self._existing.add(name)

    def models(self) -> dict[str, dict]:
        """What built each vector collection: {"text": {"model", "dim"}, "image": {...}}."""
        if len(self._models) < 2:
            rows = self.client.query(META_COLLECTION, filter='id != ""', output_fields=["id", "info"], limit=16)
            self._models.update({row["id"]: row["info"] for row in rows})
        return dict(self._models)

    def check_model(self, kind: str, model: str, dim: int) -> bool:
        """Whether the `kind` ("text" or "image") collection exists; ModelMismatchError if it was
        built by another model than this one. Vectors from different models never mix."""
        have = self.models().get(kind)
        if have and (have["model"].lower() != model.lower() or int(have["dim"]) != dim):
            setting = "VIDRAG_TEXT_MODEL" if kind == "text" else "VIDRAG_CLIP_MODEL/VIDRAG_CLIP_PRETRAINED"
            raise ModelMismatchError(
                f"The {kind} index was built with {have['model']} (dim {have['dim']}) but {setting} "
                f"gives {model} (dim {dim}). Set it back, or use another VIDRAG_DATA_DIR or Milvus."
            )
        return have is not None

    def ensure_collection(self, kind: str, model: str, dim: int) -> None:
        """Create the `kind` collection for this model, after check_model."""
        have = self.check_model(kind, model, dim)
        collection = TEXT_COLLECTION if kind == "text" else IMAGE_COLLECTION
        if not self._has(collection):
            schema = (_text_schema(self.client, dim, server=not self.settings.is_milvus_lite) if kind == "text"
                      else _image_schema(self.client, dim))
            self._create(collection, schema)
        self.client.load_collection(collection)
        if not have:
            self.client.upsert(META_COLLECTION, [_keyed_json_row(kind, {"model": model, "dim": dim})])

    # --- writes ----------------------------------------------------------------------------

    def insert_chunks(self, video_id: str, chunks: Sequence[Chunk], vectors, segment_vectors,
                      language: str = "") -> None:
        """Chunks with their vectors; `segment_vectors[i]` holds one vector per segment of chunk i,
        kept so that search can narrow a hit to its segment without running the model again.
        BM25 analyses them in `language` (a code; "" for unknown)."""
        analysed_as = language if self.bm25_analysed() else None
        rows = [chunk_to_row(video_id, i, chunk, vectors[i], segment_vectors[i], analysed_as)
                for i, chunk in enumerate(chunks)]
        self._insert(TEXT_COLLECTION, rows)

    def insert_frame_text(self, video_id: str, source: str, rows: Sequence[tuple[int, Chunk]], vectors,
                          segment_vectors=None, languages: Sequence[str] | None = None) -> None:
        """Text read off frames, as text rows beside the transcript: (the frame it starts at,
        a chunk), `source` "visual" (descriptions: one segment, itself) or "screen" (OCR: a
        segment per line, with `segment_vectors[i]` for row i), so dense and BM25 search find
        them as they find speech, BM25 in `languages[i]` (the text's own language; "" for
        unknown). Each row is written whole; rows of a committed video are visible as soon as
        they are written."""
        with_source, analysed = self.text_has_source(), self.bm25_analysed()
        made = [frame_text_to_row(video_id, source, number, chunk, vectors[i], with_source,
                                  None if segment_vectors is None else segment_vectors[i],
                                  (languages[i] if languages else "") if analysed else None)
                for i, (number, chunk) in enumerate(rows)]
        self._insert(TEXT_COLLECTION, made)

    def frame_text_ids(self, video_id: str, source: str) -> dict[int, str]:
        """{frame number: row id} of this video's `source` rows ("visual" or "screen")."""
        if not self._has(TEXT_COLLECTION):
            return {}
        rows = self.client.query(TEXT_COLLECTION, filter=f"video_id == {json.dumps(video_id)}",
                                 output_fields=["id"], limit=QUERY_LIMIT)
        return {found[1]: row["id"] for row in rows
                if (found := frame_text_number(row["id"])) is not None and found[0] == source}

    def described_frames(self, video_id: str) -> set[int]:
        """The numbers of this video's frames that have a description row."""
        return set(self.frame_text_ids(video_id, "visual"))

    def delete_rows(self, collection: str, ids: Sequence[str]) -> None:
        if ids and self._has(collection):
            self.client.delete(collection, ids=list(ids))

    def text_has_source(self) -> bool:
        """Text collections made before frame descriptions have no `source` field (Milvus Lite
        can't add one); their description rows are told apart by id, see row_source."""
        return "source" in self._text_field_names()

    def bm25_analysed(self) -> bool:
        """Whether BM25 reads text analysed per language (BM25_FIELD): collections made before
        it read `text` as it is, and their questions go as they are."""
        return BM25_FIELD in self._text_field_names()

    def _text_field_names(self) -> set[str]:
        if self._text_fields is None:
            if not self._has(TEXT_COLLECTION):
                return set()
            self._text_fields = {f["name"] for f in self.client.describe_collection(TEXT_COLLECTION)["fields"]}
        return self._text_fields

    def frame_vectors(self, video_id: str) -> np.ndarray:
        """A video's stored CLIP vectors, in frame order."""
        frames = self.frames(video_id)
        if not frames:
            return np.zeros((0, 0), dtype=np.float32)
        rows = self.client.get(IMAGE_COLLECTION, ids=[f"{video_id}:f{i}" for i in range(len(frames))],
                               output_fields=["vector"])
        by_id = {row["id"]: row["vector"] for row in rows}
        return np.array([by_id[f"{video_id}:f{i}"] for i in range(len(frames))], dtype=np.float32)

    def insert_frames(self, video_id: str, frames: Sequence[Frame], vectors: np.ndarray) -> None:
        rows = [frame_to_row(video_id, i, frame, vectors[i], self.data_dir) for i, frame in enumerate(frames)]
        self._insert(IMAGE_COLLECTION, rows)

    def _insert(self, collection: str, rows: list[dict]) -> None:
        # Upsert, not insert: row ids derive from the content id, so two workers ingesting the
        # same file against one Milvus server converge instead of leaving duplicate rows.
        for i in range(0, len(rows), INSERT_BATCH):
            self.client.upsert(collection, rows[i : i + INSERT_BATCH])

    def flush(self) -> None:
        """Seal what was written into segments on disk, searched through the index rather than
        row by row (Milvus Lite scans unflushed rows in Python). Ingest leaves this to Milvus:
        Lite flushes on its own, and a process killed during an explicit flush was seen to
        leave an empty file behind that the next start could not load."""
        for collection in (TEXT_COLLECTION, IMAGE_COLLECTION):
            if self._has(collection):
                self.client.flush(collection)

    def commit_video(self, video: Video) -> None:
        """Make a fully written video visible. Written last, after all its other rows."""
        self.client.upsert(VIDEO_COLLECTION, [_keyed_json_row(video.id, video_to_info(video, self.data_dir))])

    def delete_video(self, video_id: str) -> None:
        """Hide the video first (registry row), then drop its vectors, so no reader sees half of it."""
        expr = f"video_id == {json.dumps(video_id)}"
        self.client.delete(VIDEO_COLLECTION, filter=f"id == {json.dumps(video_id)}")
        for collection in (TEXT_COLLECTION, IMAGE_COLLECTION, *VIDEO_LEVEL_COLLECTIONS):
            if self._has(collection):
                self.client.delete(collection, filter=expr)

    # --- reads -----------------------------------------------------------------------------

    def list_videos(self) -> list[Video]:
        rows = self.client.query(VIDEO_COLLECTION, filter='id != ""', output_fields=["id", "info"], limit=QUERY_LIMIT)
        videos = [info_to_video(row["info"], self.data_dir) for row in rows]
        return sorted(videos, key=lambda v: (v.created, v.name))

    def get_video(self, video_id: str) -> Video | None:
        rows = self.client.query(
            VIDEO_COLLECTION, filter=f"id == {json.dumps(video_id)}", output_fields=["id", "info"], limit=1
        )
        return info_to_video(rows[0]["info"], self.data_dir) if rows else None

    def count_rows(self, video_id: str) -> dict[str, int]:
        """Rows per vector collection for one video; leftovers of an interrupted ingest show here."""
        counts = {}
        for collection in (TEXT_COLLECTION, IMAGE_COLLECTION):
            if not self._has(collection):
                counts[collection] = 0
                continue
            rows = self.client.query(
                collection, filter=f"video_id == {json.dumps(video_id)}", output_fields=["id"], limit=QUERY_LIMIT
            )
            counts[collection] = len(rows)
        return counts

    def chunks(self, video_id: str) -> list[Chunk]:
        rows = self.client.query(
            TEXT_COLLECTION,
            filter=f"video_id == {json.dumps(video_id)}",
            output_fields=["id", "start_s", "end_s", "text", "segments"],
            limit=QUERY_LIMIT,
        )
        return sorted((row_to_chunk(row) for row in rows if row_source(row) == "speech"), key=lambda c: c.start_s)

    def video_text(self, video_id: str) -> VideoText:
        """A video's transcript segments, frame descriptions and screen text, each in time order."""
        if not self._has(TEXT_COLLECTION):
            return VideoText([], [], [])
        fields = ["id", "start_s", "end_s", "text", "segments", *(["source"] if self.text_has_source() else [])]
        rows = self.client.query(TEXT_COLLECTION, filter=f"video_id == {json.dumps(video_id)}",
                                 output_fields=fields, limit=QUERY_LIMIT)
        found = VideoText([], [], [])
        for row in rows:
            source = row_source(row)
            if source == "speech":
                found.said.extend(row_to_chunk(row).segments)
            else:
                (found.seen if source == "visual" else found.screen).append(
                    Segment(float(row["start_s"]), float(row["end_s"]), row["text"]))
        for part in found:
            part.sort(key=lambda s: s.start_s)
        return found

    def frames(self, video_id: str) -> list[Frame]:
        rows = self.client.query(
            IMAGE_COLLECTION,
            filter=f"video_id == {json.dumps(video_id)}",
            output_fields=["timestamp_s", "frame_path"],
            limit=QUERY_LIMIT,
        )
        return sorted((self._frame(row) for row in rows), key=lambda f: f.timestamp_s)

    # --- search ----------------------------------------------------------------------------

    def search_text(self, query, field: str, limit: int, video_ids: Sequence[str] | None = None) -> list[dict]:
        """Chunks nearest `query`: a vector for field "dense", the question itself for "sparse"
        (BM25, scored by Milvus), from `video_ids` or from all rows. Each row has the chunk's
        fields and a `score`, best first."""
        if not self._has(TEXT_COLLECTION) or video_ids == []:
            return []
        metric = VECTOR_METRIC if field == "dense" else "BM25"
        hits = self.client.search(
            TEXT_COLLECTION, data=[query], anns_field=field, limit=limit, filter=in_videos_filter(video_ids),
            output_fields=["video_id", "start_s", "end_s", "text", "segments"], search_params={"metric_type": metric},
        )
        return [{**hit["entity"], "id": hit["id"], "score": float(hit["distance"])} for hit in hits[0]]

    def search_frames(self, vector, limit: int, video_ids: Sequence[str] | None = None
                      ) -> list[tuple[str, Frame, float]]:
        """Frames nearest an image-space vector, from `video_ids` or from all rows:
        (video id, frame, similarity), best first."""
        if not self._has(IMAGE_COLLECTION) or video_ids == []:
            return []
        hits = self.client.search(
            IMAGE_COLLECTION, data=[vector], anns_field="vector", limit=limit, filter=in_videos_filter(video_ids),
            output_fields=["video_id", "timestamp_s", "frame_path"], search_params={"metric_type": VECTOR_METRIC},
        )
        return [(h["entity"]["video_id"], self._frame(h["entity"]), float(h["distance"])) for h in hits[0]]

    def frames_within(self, windows: Sequence[tuple[str, float, float]]) -> list[tuple[str, Frame]]:
        """Frames inside any of the (video id, start, end) windows, in one query."""
        if not windows or not self._has(IMAGE_COLLECTION):
            return []
        rows = self.client.query(
            IMAGE_COLLECTION, filter=windows_filter(windows, "timestamp_s >= {start} and timestamp_s <= {end}"),
            output_fields=["video_id", "timestamp_s", "frame_path"], limit=QUERY_LIMIT,
        )
        return [(row["video_id"], self._frame(row)) for row in rows]

    def frames_by_index(self, wanted: Sequence[tuple[str, int]]) -> list[tuple[str, Frame]]:
        """Frames by (video id, frame number): a primary-key lookup, much cheaper than a filter."""
        if not wanted or not self._has(IMAGE_COLLECTION):
            return []
        rows = self.client.get(IMAGE_COLLECTION, ids=[f"{vid}:f{number}" for vid, number in wanted],
                               output_fields=["video_id", "timestamp_s", "frame_path"])
        return [(row["video_id"], self._frame(row)) for row in rows]

    def chunks_within(self, windows: Sequence[tuple[str, float, float]], source: str = "speech"
                      ) -> list[tuple[str, Chunk]]:
        """Chunks of `source` ("speech", "visual" or "screen") that overlap any of the (video
        id, start, end) windows, in one query."""
        return [(vid, chunk) for vid, found, chunk in self._text_within(windows) if found == source]

    def frame_text_within(self, windows: Sequence[tuple[str, float, float]]) -> list[tuple[str, str, Chunk]]:
        """Descriptions and screen text overlapping any of the windows, in one query:
        (video id, source, chunk)."""
        return [row for row in self._text_within(windows) if row[1] in FRAME_TEXT_SOURCES]

    def _text_within(self, windows: Sequence[tuple[str, float, float]]) -> list[tuple[str, str, Chunk]]:
        if not windows or not self._has(TEXT_COLLECTION):
            return []
        fields = ["id", "video_id", "start_s", "end_s", "text", "segments",
                  *(["source"] if self.text_has_source() else [])]
        overlapping = windows_filter(windows, "start_s <= {end} and end_s >= {start}")
        rows = self.client.query(TEXT_COLLECTION, filter=overlapping, output_fields=fields, limit=QUERY_LIMIT)
        return [(row["video_id"], row_source(row), row_to_chunk(row)) for row in rows]

    def _frame(self, row: dict) -> Frame:
        return Frame(float(row["timestamp_s"]), str(self.data_dir / row["frame_path"]))

    def close(self) -> None:
        self.client.close()
        if self.settings.is_milvus_lite:
            lite_speedup.thaw()  # what was frozen at open may now become garbage
