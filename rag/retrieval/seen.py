"""What a moment shows and what is written in it, beside what it says: frame text in results.

Frame text is text rows read off the frames: descriptions (source "visual", the describe stage)
and screen text (source "screen", the read stage's OCR). The same dense and BM25 searches as the
transcript find them. A frame-text hit inside a better transcript hit's window joins it, the way
a CLIP frame hit does; so does a screen hit inside a better description hit's, and the other way
round. Any other is a moment of its own, the frames it was read from, whose transcript is filled
in like a frame-only moment's. Every moment then carries the descriptions ("seen") and the screen
text ("screen") in its range beside its transcript ("said").
"""

from __future__ import annotations

from rag.store import FRAME_TEXT_SOURCES, Store, frame_text_number, row_source


def mark_visual(candidate, row: dict):
    """A frame-text row's candidate: its text is what was seen or read; what was said comes later."""
    source = row_source(row)
    if source in FRAME_TEXT_SOURCES:
        candidate.visual, candidate.source = True, source
        if source == "visual":
            candidate.seen = candidate.text
        else:
            candidate.screen = candidate.text
        candidate.text = ""
        found = frame_text_number(row["id"])
        candidate.frame_number = found[1] if found else None
    return candidate


def fold_visual(candidates: list, slack_s: float, store: Store) -> list:
    """A frame-text hit within `slack_s` of a better-ranked hit of the same video, from the
    transcript or from the other kind of frame text, joins it (its new signals' share of its
    score adds, its frame is the one shown). One that ranks above every such hit is the sharper
    evidence (the frames it was read from, not a run of talk that merely didn't contradict the
    query) and stays a moment of its own."""
    kept = [c for c in candidates if not c.visual]
    frames = dict(((vid, f.timestamp_s), f) for vid, f in store.frames_by_index(
        [(c.video_id, c.frame_number) for c in candidates if c.visual and c.frame_number is not None]))
    for visual in sorted((c for c in candidates if c.visual), key=lambda c: -c.score):
        frame = frames.get((visual.video_id, visual.start_s))
        home = next((c for c in kept if c.video_id == visual.video_id and c.score >= visual.score
                     and c.source != visual.source
                     and c.start_s - slack_s <= visual.start_s <= c.end_s + slack_s), None)
        if home is None:
            visual.frame = frame
            kept.append(visual)
            continue
        # One vote per list, as for frames: only the signals the home hit lacks add their share
        # of the frame text's score (a dense near-miss on both adds nothing).
        new = [s for s in visual.signals if s not in home.signals]
        home.score += visual.score * len(new) / max(1, len(visual.signals))
        home.signals += new
        home.frame = home.frame or frame
    return kept


def attach_frame_text(candidates: list, store: Store) -> None:
    """Each candidate's `seen` and `screen`: the frame text in its range, in time order."""
    if not candidates:
        return
    rows = store.frame_text_within([(c.video_id, c.start_s, c.end_s) for c in candidates])
    for c in candidates:
        inside = sorted(((source, chunk) for vid, source, chunk in rows
                         if vid == c.video_id and chunk.start_s < c.end_s and chunk.end_s > c.start_s),
                        key=lambda item: item[1].start_s)
        seen = [chunk.text for source, chunk in inside if source == "visual"]
        screen = [chunk.text for source, chunk in inside if source == "screen"]
        c.seen = " ".join(seen) or c.seen
        c.screen = " ".join(screen) or c.screen
