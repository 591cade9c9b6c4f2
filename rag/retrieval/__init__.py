"""Retrieval: the moments that answer a query, fused from transcript, frame and description search."""
