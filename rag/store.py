"""The Milvus store: text chunks, frames, the registry of videos, and which models built them.

The same code runs against Milvus Lite (a local directory) and a Milvus server. Translation
between domain objects and rows is done by the pure functions at the bottom of this file.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag import lite_speedup
from rag.datadir import check_writable
from rag.errors import ModelMismatchError, StoreError, StoreLockedError, first_line
from rag.settings import Settings
from rag.types import Chunk, Frame, Segment, Video

log = logging.getLogger(__name__)

TEXT_COLLECTION = "vidrag_text"
IMAGE_COLLECTION = "vidrag_images"
VIDEO_COLLECTION = "vidrag_videos"  # the registry; a video's row here is its commit marker
META_COLLECTION = "vidrag_meta"  # which embedding model built each vector collection
# Whole-video rows, keyed by `video_id` (rag/video_index.py writes them; delete_video removes them).
SUMMARY_COLLECTION = "vidrag_summaries"
VIDEO_IMAGE_COLLECTION = "vidrag_video_images"
VIDEO_TEXT_COLLECTION = "vidrag_video_texts"
VIDEO_LEVEL_COLLECTIONS = (SUMMARY_COLLECTION, VIDEO_IMAGE_COLLECTION, VIDEO_TEXT_COLLECTION)

INSERT_BATCH = 256  # rows per insert call
QUERY_LIMIT = 16384  # Milvus's largest query window
MAX_TEXT = 16384  # characters of chunk text stored
MAX_VARCHAR = 65535  # bytes of UTF-8: the longest VARCHAR a Milvus server (and Milvus Lite 2.x) accepts
ID_LENGTH = 64
PATH_LENGTH = 4096
SOURCE_LENGTH = 16
PLACEHOLDER_DIM = 2  # Milvus wants a vector field in every collection, even the registry
# Every vector we store is normalized, so inner product is cosine similarity; Milvus Lite's
# brute-force search skips re-normalizing every stored vector on each query for IP.
VECTOR_METRIC = "IP"


def _lite_options(settings: Settings) -> dict:
    """Milvus Lite's gRPC server runs in this process and, like any gRPC server, takes a client
    that pings more often than every 5 minutes for misbehaving: it closes the connection
    ("too_many_pings") and the next request waits for a reconnect. Keepalive pings have nothing
    to detect in-process, so they are turned off for Lite."""
    if not settings.is_milvus_lite:
        return {}
    return {"grpc_options": {"grpc.keepalive_time_ms": 2**31 - 1, "grpc.keepalive_permit_without_calls": 0}}


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
            self.client = MilvusClient(uri=target, token=settings.milvus_token or "", **_lite_options(settings))
        except Exception as e:
            if settings.is_milvus_lite and _lite_is_locked(Path(target)):
                raise StoreLockedError(
                    f"The Milvus Lite database {target} is in use by another process. Stop that process "
                    "(the app, or another ingest), or set VIDRAG_MILVUS_URI to a Milvus server."
                ) from e
            raise StoreError(f"Cannot open Milvus at {target}: {first_line(e)}") from e
        self.target = target
        # Collections and their model records, once seen, never go away (vidrag never drops
        # them), so they are remembered: each search would otherwise ask Milvus again.
        self._existing: set[str] = set()
        self._models: dict[str, dict] = {}
        self._text_source: bool | None = None
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
        schema, index = schema_and_index
        self.client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")

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
            schema = _text_schema(self.client, dim) if kind == "text" else _image_schema(self.client, dim)
            self._create(collection, schema)
        self.client.load_collection(collection)
        if not have:
            self.client.upsert(META_COLLECTION, [_keyed_json_row(kind, {"model": model, "dim": dim})])

    # --- writes ----------------------------------------------------------------------------

    def insert_chunks(self, video_id: str, chunks: Sequence[Chunk], vectors, segment_vectors) -> None:
        """Chunks with their vectors; `segment_vectors[i]` holds one vector per segment of chunk i,
        kept so that search can narrow a hit to its segment without running the model again."""
        rows = [chunk_to_row(video_id, i, chunk, vectors[i], segment_vectors[i]) for i, chunk in enumerate(chunks)]
        self._insert(TEXT_COLLECTION, rows)

    def insert_descriptions(self, video_id: str, described: Sequence[tuple[int, Chunk]], vectors) -> None:
        """What frames show, as text rows beside the transcript: (frame number, one-segment chunk),
        so dense and BM25 search find them as they find speech. Each row is written whole; rows
        of a committed video are visible as soon as they are written."""
        with_source = self.text_has_source()
        rows = [description_to_row(video_id, number, chunk, vectors[i], with_source)
                for i, (number, chunk) in enumerate(described)]
        self._insert(TEXT_COLLECTION, rows)

    def described_frames(self, video_id: str) -> set[int]:
        """The numbers of this video's frames that have a description row."""
        if not self._has(TEXT_COLLECTION):
            return set()
        rows = self.client.query(TEXT_COLLECTION, filter=f"video_id == {json.dumps(video_id)}",
                                 output_fields=["id"], limit=QUERY_LIMIT)
        return {number for row in rows if (number := description_number(row["id"])) is not None}

    def text_has_source(self) -> bool:
        """Text collections made before frame descriptions have no `source` field (Milvus Lite
        can't add one); their description rows are told apart by id, see row_source."""
        if self._text_source is None:
            fields = self.client.describe_collection(TEXT_COLLECTION)["fields"]
            self._text_source = any(f["name"] == "source" for f in fields)
        return self._text_source

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
            TEXT_COLLECTION, data=[query], anns_field=field, limit=limit, filter=_in_videos(video_ids),
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
            IMAGE_COLLECTION, data=[vector], anns_field="vector", limit=limit, filter=_in_videos(video_ids),
            output_fields=["video_id", "timestamp_s", "frame_path"], search_params={"metric_type": VECTOR_METRIC},
        )
        return [(h["entity"]["video_id"], self._frame(h["entity"]), float(h["distance"])) for h in hits[0]]

    def frames_within(self, windows: Sequence[tuple[str, float, float]]) -> list[tuple[str, Frame]]:
        """Frames inside any of the (video id, start, end) windows, in one query."""
        if not windows or not self._has(IMAGE_COLLECTION):
            return []
        rows = self.client.query(
            IMAGE_COLLECTION, filter=_windows(windows, "timestamp_s >= {start} and timestamp_s <= {end}"),
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
        """Chunks of `source` ("speech" or "visual") that overlap any of the (video id, start,
        end) windows, in one query."""
        if not windows or not self._has(TEXT_COLLECTION):
            return []
        rows = self.client.query(
            TEXT_COLLECTION, filter=_windows(windows, "start_s <= {end} and end_s >= {start}"),
            output_fields=["id", "video_id", "start_s", "end_s", "text", "segments"], limit=QUERY_LIMIT,
        )
        return [(row["video_id"], row_to_chunk(row)) for row in rows if row_source(row) == source]

    def _frame(self, row: dict) -> Frame:
        return Frame(float(row["timestamp_s"]), str(self.data_dir / row["frame_path"]))

    def close(self) -> None:
        self.client.close()
        if self.settings.is_milvus_lite:
            lite_speedup.thaw()  # what was frozen at open may now become garbage


# --- schemas -------------------------------------------------------------------------------


def _keyed_json_schema(client):
    """Registry and meta: a string key, a JSON document, and the vector Milvus insists on."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_LENGTH, is_primary=True)
    schema.add_field("info", DataType.JSON)
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=PLACEHOLDER_DIM)
    index = client.prepare_index_params()
    index.add_index("placeholder", index_type="AUTOINDEX", metric_type="L2")
    return schema, index


def _text_schema(client, dim: int):
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_LENGTH + 16, is_primary=True)
    schema.add_field("video_id", DataType.VARCHAR, max_length=ID_LENGTH)
    schema.add_field("start_s", DataType.DOUBLE)
    schema.add_field("end_s", DataType.DOUBLE)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True)
    schema.add_field("segments", DataType.JSON)
    # What the text is: "speech" (transcript) or "visual" (a frame's description). Nullable with a
    # default, so rows written without it (by older code) read as speech.
    schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_LENGTH, nullable=True, default_value="speech")
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    # Milvus computes the BM25 sparse vector from `text` itself, so full-text search needs no model.
    schema.add_function(
        Function(
            name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]
        )
    )
    index = client.prepare_index_params()
    index.add_index("dense", index_type="AUTOINDEX", metric_type=VECTOR_METRIC)
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    index.add_index("video_id", index_type="INVERTED")
    return schema, index


def _image_schema(client, dim: int):
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_LENGTH + 16, is_primary=True)
    schema.add_field("video_id", DataType.VARCHAR, max_length=ID_LENGTH)
    schema.add_field("timestamp_s", DataType.DOUBLE)
    schema.add_field("frame_path", DataType.VARCHAR, max_length=PATH_LENGTH)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type=VECTOR_METRIC)
    index.add_index("video_id", index_type="INVERTED")
    return schema, index


# --- rows <-> domain (pure) ----------------------------------------------------------------


def _keyed_json_row(key: str, info: dict) -> dict:
    return {"id": key, "info": info, "placeholder": [0.0] * PLACEHOLDER_DIM}


def chunk_to_row(video_id: str, index: int, chunk: Chunk, vector: np.ndarray, segment_vectors) -> dict:
    # Each segment's vector as float16 in base64: a tenth of the size of a JSON list of floats,
    # and precise enough to rank a handful of sentences against each other.
    segments = [
        [s.start_s, s.end_s, s.text, base64.b64encode(np.asarray(vec, dtype=np.float16).tobytes()).decode("ascii")]
        for s, vec in zip(chunk.segments, segment_vectors, strict=True)
    ]
    return {
        "id": f"{video_id}:t{index}",
        "video_id": video_id,
        "start_s": float(chunk.start_s),
        "end_s": float(chunk.end_s),
        "text": _fit_utf8(chunk.text[:MAX_TEXT], MAX_VARCHAR),
        "segments": segments,
        "dense": [float(x) for x in vector],
    }


def description_to_row(video_id: str, number: int, chunk: Chunk, vector: np.ndarray, with_source: bool) -> dict:
    """Frame `number`'s description: a text row with one segment (itself), id `<video>:d<n>`."""
    row = chunk_to_row(video_id, 0, chunk, vector, [vector])
    row["id"] = f"{video_id}:d{number}"
    if with_source:
        row["source"] = "visual"
    return row


def description_number(row_id: str) -> int | None:
    """The frame number of a description row's id, None for a transcript row."""
    _, _, tail = row_id.rpartition(":")
    return int(tail[1:]) if tail.startswith("d") and tail[1:].isdigit() else None


def row_source(row: dict) -> str:
    """"speech" or "visual": the row's field where the collection has one, else read off its id."""
    return row.get("source") or ("visual" if description_number(row["id"]) is not None else "speech")


def _fit_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, never inside a character."""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= max_bytes else encoded[:max_bytes].decode("utf-8", errors="ignore")


def row_to_chunk(row: dict) -> Chunk:
    segments = tuple(Segment(float(item[0]), float(item[1]), item[2]) for item in row["segments"])
    return Chunk(float(row["start_s"]), float(row["end_s"]), row["text"], segments)


def row_segment_vectors(row: dict) -> np.ndarray:
    """The stored vectors of a chunk row's segments, one row each."""
    encoded = [item[3] for item in row["segments"]]
    if not encoded:  # a chunk without segments: nothing to narrow
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.frombuffer(base64.b64decode(e), dtype=np.float16) for e in encoded]).astype(np.float32)


def frame_to_row(video_id: str, index: int, frame: Frame, vector: np.ndarray, data_dir: Path) -> dict:
    return {
        "id": f"{video_id}:f{index}",
        "video_id": video_id,
        "timestamp_s": float(frame.timestamp_s),
        "frame_path": _relative(frame.path, data_dir),
        "vector": [float(x) for x in vector],
    }


def video_to_info(video: Video, data_dir: Path) -> dict:
    info = video.to_json()
    info["file"] = _relative(video.file, data_dir)
    return info


def info_to_video(info: dict, data_dir: Path) -> Video:
    fields = dict(info)
    fields["file"] = str(data_dir / fields["file"]) if fields.get("file") else ""
    return Video(**fields)


def _relative(path: str, data_dir: Path) -> str:
    """Paths under the data dir are stored relative to it, so the data dir can move."""
    try:
        return str(Path(path).resolve().relative_to(data_dir))
    except ValueError:
        return str(path)


def _in_videos(video_ids: Sequence[str] | None) -> str:
    """A filter for rows of these videos only ("" for all rows)."""
    return f"video_id in {json.dumps(list(video_ids))}" if video_ids is not None else ""


def _windows(windows: Sequence[tuple[str, float, float]], condition: str) -> str:
    """A filter matching `condition` in any of the (video id, start, end) windows."""
    return " or ".join(
        f"(video_id == {json.dumps(video_id)} and {condition.format(start=float(start), end=float(end))})"
        for video_id, start, end in windows
    )


def _lite_is_locked(db_dir: Path) -> bool:
    import fcntl
    import os

    lock_path = db_dir / "LOCK"
    if not lock_path.exists():
        return False
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)

