"""vidrag's collections in Milvus: their names, fields and indexes, and the translation between
domain objects and rows (pure functions, testable without a database)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.languages import index_text
from rag.types import Chunk, Frame, Segment, Video

TEXT_COLLECTION = "vidrag_text"
IMAGE_COLLECTION = "vidrag_images"
VIDEO_COLLECTION = "vidrag_videos"  # the registry; a video's row here is its commit marker
META_COLLECTION = "vidrag_meta"  # which embedding model built each vector collection
# Whole-video rows, keyed by `video_id` (rag/store/videos.py writes them; delete_video removes them).
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


def _per_video_rows(client):
    """A schema for rows of a video (chunks, frames): a row id, then the video's id."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_LENGTH + 16, is_primary=True)
    schema.add_field("video_id", DataType.VARCHAR, max_length=ID_LENGTH)
    return schema


def _per_video_index(client, vector_field: str):
    """The vector's index, and an inverted index on video_id for the per-video filters."""
    index = client.prepare_index_params()
    index.add_index(vector_field, index_type="AUTOINDEX", metric_type=VECTOR_METRIC)
    index.add_index("video_id", index_type="INVERTED")
    return index


# The BM25 function's input: the text as rag/languages/analysis.py analyses it in its language
# (stems, no stop words, CJK character pairs), terms separated by spaces. Collections made
# before it (issue 24) feed BM25 from `text` itself, and stay that way.
BM25_FIELD = "bm25_text"


def _text_schema(client, dim: int, server: bool = False):
    from pymilvus import DataType, Function, FunctionType

    schema = _per_video_rows(client)
    schema.add_field("start_s", DataType.DOUBLE)
    schema.add_field("end_s", DataType.DOUBLE)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    # The terms are already cut: a server splits them only at spaces (its standard tokenizer
    # would cut the CJK pairs into characters). Milvus Lite knows no whitespace tokenizer; its
    # standard one splits at non-word characters, which for these terms is the same.
    tokenizer = {"analyzer_params": {"tokenizer": "whitespace"}} if server else {}
    schema.add_field(BM25_FIELD, DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True, **tokenizer)
    schema.add_field("segments", DataType.JSON)
    # What the text is: "speech" (transcript), "visual" (a frame's description) or "screen" (text
    # read off the frames, see FRAME_TEXT_PREFIXES). Nullable with a
    # default, so rows written without it (by older code) read as speech.
    schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_LENGTH, nullable=True, default_value="speech")
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    # Milvus computes the BM25 sparse vector from the analysed text, so full-text search needs no model.
    schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                 input_field_names=[BM25_FIELD], output_field_names=["sparse"]))
    index = _per_video_index(client, "dense")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    return schema, index


def _image_schema(client, dim: int):
    from pymilvus import DataType

    schema = _per_video_rows(client)
    schema.add_field("timestamp_s", DataType.DOUBLE)
    schema.add_field("frame_path", DataType.VARCHAR, max_length=PATH_LENGTH)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    return schema, _per_video_index(client, "vector")


# --- filters (pure) -----------------------------------------------------------------------


def in_videos_filter(video_ids: Sequence[str] | None) -> str:
    """A filter for rows of these videos only ("" for all rows)."""
    return f"video_id in {json.dumps(list(video_ids))}" if video_ids is not None else ""


def windows_filter(windows: Sequence[tuple[str, float, float]], condition: str) -> str:
    """A filter matching `condition` in any of the (video id, start, end) windows."""
    return " or ".join(
        f"(video_id == {json.dumps(video_id)} and {condition.format(start=float(start), end=float(end))})"
        for video_id, start, end in windows
    )


# --- rows <-> domain (pure) ----------------------------------------------------------------


def _keyed_json_row(key: str, info: dict) -> dict:
    return {"id": key, "info": info, "placeholder": [0.0] * PLACEHOLDER_DIM}


def chunk_to_row(video_id: str, index: int, chunk: Chunk, vector: np.ndarray, segment_vectors,
                 language: str | None = None) -> dict:
    """A text row; with `language` (a code, "" for unknown) its BM25 field too, analysed in it."""
    # Each segment's vector as float16 in base64: a tenth of the size of a JSON list of floats,
    # and precise enough to rank a handful of sentences against each other.
    # A segment's speaker comes fifth, where it has one: rows written before speakers have four.
    segments = [
        [s.start_s, s.end_s, s.text, base64.b64encode(np.asarray(vec, dtype=np.float16).tobytes()).decode("ascii"),
         *([s.speaker] if s.speaker else [])]
        for s, vec in zip(chunk.segments, segment_vectors, strict=True)
    ]
    row = {
        "id": f"{video_id}:t{index}",
        "video_id": video_id,
        "start_s": float(chunk.start_s),
        "end_s": float(chunk.end_s),
        "text": _fit_utf8(chunk.text[:MAX_TEXT], MAX_VARCHAR),
        "segments": segments,
        "dense": [float(x) for x in vector],
    }
    if language is not None:
        row[BM25_FIELD] = _fit_utf8(index_text(chunk.text[:MAX_TEXT], language), MAX_VARCHAR)
    return row


# Text read off frames, beside the transcript: a frame's description ("visual", one row per
# frame) and what is written on screen ("screen", one row per stretch of unchanged text). Their
# ids, `<video>:d<n>` and `<video>:s<n>`, name the frame they start at.
FRAME_TEXT_PREFIXES = {"visual": "d", "screen": "s"}
FRAME_TEXT_SOURCES = tuple(FRAME_TEXT_PREFIXES)


def frame_text_to_row(video_id: str, source: str, number: int, chunk: Chunk, vector: np.ndarray,
                      with_source: bool, segment_vectors=None, language: str | None = None) -> dict:
    """Text read off frame `number` on: a text row whose segments are its lines (screen text),
    or itself (a description, whose vector is then its segment's)."""
    row = chunk_to_row(video_id, 0, chunk, vector, [vector] if segment_vectors is None else segment_vectors,
                       language)
    row["id"] = f"{video_id}:{FRAME_TEXT_PREFIXES[source]}{number}"
    if with_source:
        row["source"] = source
    return row


def frame_text_number(row_id: str) -> tuple[str, int] | None:
    """(source, frame number) of a frame-text row's id; None for a transcript row."""
    _, _, tail = row_id.rpartition(":")
    source = next((s for s, prefix in FRAME_TEXT_PREFIXES.items() if tail.startswith(prefix)), None)
    return (source, int(tail[1:])) if source and tail[1:].isdigit() else None


def row_source(row: dict) -> str:
    """"speech", "visual" or "screen": the row's field where the collection has one, else read
    off its id (collections made before frame text have no `source` field)."""
    found = frame_text_number(row["id"])
    return row.get("source") or (found[0] if found else "speech")


def _fit_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, never inside a character."""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= max_bytes else encoded[:max_bytes].decode("utf-8", errors="ignore")


def row_to_chunk(row: dict) -> Chunk:
    segments = tuple(Segment(float(item[0]), float(item[1]), item[2], item[4] if len(item) > 4 else "")
                     for item in row["segments"])
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


