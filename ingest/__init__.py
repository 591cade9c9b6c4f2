"""The ingest pipeline: media file -> frames + transcript -> embeddings -> Milvus."""
