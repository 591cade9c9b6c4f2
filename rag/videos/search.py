"""Whole videos as results: "which of my videos are about cooking?" and "videos like this one".

A text query ranks videos three ways: by their text vector (MiniLM), by their frame vector
(CLIP's text tower against the mean of the frames) and by their best moment from the ordinary
moment search. The three rankings are fused with reciprocal-rank fusion, as moments are (see
rag/retrieval/search.py): no calibration between the scales, and agreement is rewarded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.retrieval.search import RRF_K
from rag.store.videos import VIDEO_VECTOR_COLLECTIONS, VideoIndex
from rag.types import Moment, Video

MOMENTS_FOR_VIDEOS = 50  # moments searched to find each video's best one
CANDIDATE_VIDEOS = 100  # videos kept per video-level ranking


@dataclass
class VideoResult:
    video: Video
    score: float
    moment: Moment | None = None  # its best moment for the query (none for "similar")
    similarity: dict[str, float] = field(default_factory=dict)  # per vector kind, for "similar"

    def to_json(self) -> dict:
        result = {"video_id": self.video.id, "name": self.video.name, "score": round(self.score, 6)}
        if self.similarity:
            result["similarity"] = {kind: round(value, 6) for kind, value in self.similarity.items()}
        else:
            result["moment"] = self.moment.to_json() if self.moment else None
        return result


def find_video(store, id_or_prefix: str, videos: list[Video] | None = None) -> Video:
    """A video by its id, or by an unambiguous start of it (at least 4 characters)."""
    from rag.errors import VidragError

    videos = store.list_videos() if videos is None else videos
    exact = [v for v in videos if v.id == id_or_prefix]
    matches = exact or ([v for v in videos if v.id.startswith(id_or_prefix)] if len(id_or_prefix) >= 4 else [])
    if not matches:
        raise VidragError(f"no video with id {id_or_prefix}")
    if len(matches) > 1:
        raise VidragError(f"{id_or_prefix} matches {len(matches)} videos; give more of the id")
    return matches[0]


def backfill(index: VideoIndex, videos: dict[str, Video]) -> None:
    """Video-level vectors for videos that have none (libraries built before they existed). Once
    per store: from then on every add writes its own."""
    if getattr(index.store, "video_vectors_checked", False):
        return
    for video_id in index.missing(list(videos)):
        index.refresh(video_id)
    index.store.video_vectors_checked = True


def search_videos(library, query: str, k: int = 10) -> list[VideoResult]:
    """Videos ranked for a text query, each with its best moment."""
    videos = {v.id: v for v in library.store.list_videos()}
    query = query.strip()
    if not videos or not query:
        return []
    index = VideoIndex(library.store)
    backfill(index, videos)
    searcher = library.searcher
    limit = min(len(videos), CANDIDATE_VIDEOS)
    rankings = [[h.video_id for h in index.nearest("text", searcher._text_model().embed_query([query])[0], limit)]]
    if (clip := searcher._clip_model()) is not None:
        rankings.append([h.video_id for h in index.nearest("image", clip.embed_text([query])[0], limit)])
    best: dict[str, Moment] = {}
    for moment in library.search(query, k=MOMENTS_FOR_VIDEOS):
        best.setdefault(moment.video_id, moment)  # moments come best first
    rankings.append(list(best))
    scores = fuse(rankings)
    ranked = sorted((vid for vid in scores if vid in videos), key=lambda vid: -scores[vid])[:k]
    return [VideoResult(videos[vid], scores[vid], best.get(vid)) for vid in ranked]


def similar_videos(library, video_id: str, k: int = 10) -> list[VideoResult]:
    """Other videos, most alike first: the mean of the cosine similarities of their video-level
    vectors, over the kinds (frames, text) this video has; a kind the other lacks counts 0."""
    videos = {v.id: v for v in library.store.list_videos()}
    source = find_video(library.store, video_id, list(videos.values()))
    index = VideoIndex(library.store)
    backfill(index, videos)
    limit = min(len(videos), CANDIDATE_VIDEOS + 1)
    kinds = {kind: vector for kind in VIDEO_VECTOR_COLLECTIONS if (vector := index.vector(kind, source.id)) is not None}
    found: dict[str, dict[str, float]] = {}
    for kind, vector in kinds.items():
        for hit in index.nearest(kind, vector, limit):
            if hit.video_id != source.id and hit.video_id in videos:
                found.setdefault(hit.video_id, {})[kind] = hit.similarity
    results = [VideoResult(videos[vid], sum(sims.values()) / len(kinds), similarity=sims)
               for vid, sims in found.items()]
    return sorted(results, key=lambda r: -r.score)[:k]


def fuse(rankings: list[list[str]]) -> dict[str, float]:
    """Reciprocal-rank fusion of ranked id lists."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank + 1)
    return scores


def listed_video(store, video: Video) -> dict:
    """A video as `vidrag list --json` and the API list it: its fields (not each frame's tags),
    how many frames are described, its rows of screen text and whether it was read (the OCR
    engine's name, or ""), and where a video added by URL came from."""
    data = {k: v for k, v in video.to_json().items() if k != "frame_tags"}
    data["described_frames"] = len(store.described_frames(video.id))
    data["screen_rows"] = len(store.frame_text_ids(video.id, "screen"))
    data["screen_read"] = video.extra.get("screen_read", "")
    data["source_url"] = video.extra.get("source_url", "")
    data["title"] = video.extra.get("title", "")
    return data
