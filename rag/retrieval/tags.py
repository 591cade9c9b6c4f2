"""Search by zero-shot tag: moments whose range holds a frame the tags stage
(ingest/stages/tags.py) tagged so."""

from __future__ import annotations


def frames_with_tag(video, tag: str) -> list[int]:
    """The numbers of a video's frames tagged `tag` (case-insensitive)."""
    wanted = tag.strip().lower()
    return [n for n, tags in enumerate(video.frame_tags) if wanted in (t.lower() for t in tags)]


TAG_SEARCH_WIDENING = 4  # moments fetched per moment wanted, since the tag filter drops some


def search_with_tag(searcher, query: str, tag: str, video_ids=None, k: int | None = None, image=None) -> list:
    """Moments for the query (text, image or both) whose range holds a frame tagged `tag`."""
    k = k or searcher.settings.search_k
    videos = [v for v in searcher.store.list_videos() if frames_with_tag(v, tag)]
    if video_ids:
        videos = [v for v in videos if v.id in set(video_ids)]
    if not videos:
        return []
    tagged = {}
    for video in videos:
        frames = searcher.store.frames(video.id)
        tagged[video.id] = [frames[n].timestamp_s for n in frames_with_tag(video, tag) if n < len(frames)]
    slack = 0.5 / searcher.settings.frame_fps
    moments = searcher.search(query, video_ids=[v.id for v in videos], k=k * TAG_SEARCH_WIDENING, image=image)
    return [m for m in moments
            if any(m.start_s - slack <= t <= m.end_s + slack for t in tagged[m.video_id])][:k]
