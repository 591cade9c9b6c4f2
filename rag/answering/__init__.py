"""Answering: the prompt over the retrieved moments, the VLM's streamed answer and its citations."""
