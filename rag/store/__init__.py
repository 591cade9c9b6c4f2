"""The store: the only code that talks to Milvus (Lite or a server).

- store.py: `Store`, one connection and the collections of chunks, frames and videos;
- schema.py: the collections' names and fields, and rows <-> domain objects (pure);
- videos.py: `VideoIndex`, summaries and video-level vectors;
- lite_speedup/: Milvus Lite 3.2.2's searches without its walk over every row.
"""

from rag.store.schema import (
    FRAME_TEXT_SOURCES,
    ID_LENGTH,
    IMAGE_COLLECTION,
    MAX_TEXT,
    QUERY_LIMIT,
    SUMMARY_COLLECTION,
    TEXT_COLLECTION,
    VECTOR_METRIC,
    VIDEO_IMAGE_COLLECTION,
    VIDEO_LEVEL_COLLECTIONS,
    VIDEO_TEXT_COLLECTION,
    chunk_to_row,
    frame_text_number,
    info_to_video,
    row_segment_vectors,
    row_source,
    row_to_chunk,
    video_to_info,
)
from rag.store.store import Store

__all__ = [
    "ID_LENGTH", "IMAGE_COLLECTION", "MAX_TEXT", "QUERY_LIMIT", "SUMMARY_COLLECTION", "TEXT_COLLECTION",
    "VECTOR_METRIC", "VIDEO_IMAGE_COLLECTION", "VIDEO_LEVEL_COLLECTIONS", "VIDEO_TEXT_COLLECTION", "Store",
    "FRAME_TEXT_SOURCES", "chunk_to_row", "frame_text_number", "info_to_video", "row_segment_vectors", "row_source",
    "row_to_chunk",
    "video_to_info",
]
