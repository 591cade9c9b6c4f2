"""What a moment shows, beside what it says: frame descriptions in search results.

Descriptions are text rows (source "visual") found by the same dense and BM25 searches as the
transcript. A description hit inside a transcript hit's window joins it, the way a CLIP frame hit
does; any other is a moment of its own, its frame's sampling window, whose transcript is filled in
like a frame-only moment's. Every moment then carries the descriptions of the frames in its range
("seen") beside its transcript ("said").
"""

from __future__ import annotations

from rag.store import Store, description_number, row_source


def mark_visual(candidate, row: dict):
    """A description row's candidate: its text is what was seen; what was said comes later."""
    if row_source(row) == "visual":
        candidate.visual = True
        candidate.seen, candidate.text = candidate.text, ""
        candidate.frame_number = description_number(row["id"])
    return candidate


def fold_visual(candidates: list, slack_s: float, store: Store) -> list:
    """A description hit within `slack_s` of a better-ranked transcript hit of the same video
    joins it (its new signals' share of its score adds, its frame is the one shown). One that ranks above every
    such transcript hit is the sharper evidence (one frame's window, not a run of talk that
    merely didn't contradict the query) and stays a moment of its own."""
    speech = [c for c in candidates if not c.visual]
    kept = list(speech)
    frames = dict(((vid, f.timestamp_s), f) for vid, f in store.frames_by_index(
        [(c.video_id, c.frame_number) for c in candidates if c.visual and c.frame_number is not None]))
    for visual in (c for c in candidates if c.visual):
        frame = frames.get((visual.video_id, visual.start_s))
        home = next((c for c in speech if c.video_id == visual.video_id and c.score >= visual.score
                     and c.start_s - slack_s <= visual.start_s <= c.end_s + slack_s), None)
        if home is None:
            visual.frame = frame
            kept.append(visual)
            continue
        # One vote per list, as for frames: only the signals the transcript hit lacks add their
        # share of the description's score (a dense near-miss on both adds nothing).
        new = [s for s in visual.signals if s not in home.signals]
        home.score += visual.score * len(new) / max(1, len(visual.signals))
        home.signals += new
        home.frame = home.frame or frame
    return kept


def attach_seen(candidates: list, store: Store) -> None:
    """Each candidate's `seen`: the descriptions of the frames in its range, in time order."""
    if not candidates:
        return
    rows = store.chunks_within([(c.video_id, c.start_s, c.end_s) for c in candidates], source="visual")
    for c in candidates:
        inside = sorted((chunk for vid, chunk in rows
                         if vid == c.video_id and chunk.start_s < c.end_s and chunk.end_s > c.start_s),
                        key=lambda chunk: chunk.start_s)
        if inside:
            c.seen = " ".join(chunk.text for chunk in inside)
