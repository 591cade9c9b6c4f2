"""Whole videos: video-level vectors, video search and similarity, summaries, chapters and captions."""
