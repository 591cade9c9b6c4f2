"""Hybrid search over the library: transcript chunks (dense and BM25) and frames (CLIP), fused
by time into moments with reciprocal-rank fusion.

Reciprocal-rank fusion (RRF) adds 1/(RRF_K + rank) for each list a result appears in. It needs
no calibration between cosine similarities, BM25 scores and CLIP scores, which live on different
scales, and it rewards agreement: a moment that both the transcript and a frame point at ranks
above one that only one signal found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from rag.languages import guess_language, query_terms
from rag.models import load_clip_embedder, load_text_embedder
from rag.retrieval.query_batch import QueryBatcher
from rag.retrieval.seen import attach_frame_text, fold_visual, mark_visual
from rag.retrieval.speaker_filter import WIDER, allowed_segments, rows_with_speaker, said_by, speaker_labels
from rag.settings import Settings
from rag.store import Store, lite_speedup, row_segment_vectors
from rag.store import row_to_chunk as _row_to_chunk
from rag.types import Chunk, Frame, Moment, Segment, Video

SIGNALS = ("dense", "bm25", "clip", "image")
RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks
CANDIDATES = 30  # results kept per signal for fusion
LEFTOVER_MARGIN = 10  # extra results fetched, for rows of videos not (or not yet) committed
NARROW_CHUNKS = 12  # best chunks whose segments are scored one by one
SEGMENT_MARGIN = 0.05  # neighbours this close to the best segment's score join the moment
LEXICAL_WEIGHT = 0.5  # weight of query words found verbatim, next to cosine similarity
# Each ranked list's weight in the fusion ("segment" is the re-rank of chunks by their best
# segment). Chosen with `vidrag eval --signals` (BENCHMARKS.md, "Evaluation"): the best
# segment is the most precise evidence, so it counts double; a frame's vote counts half, so that
# in talk, where most frames look alike, CLIP breaks ties instead of overruling the transcript.
WEIGHTS = {"dense": 1.0, "bm25": 1.0, "clip": 0.5, "segment": 2.0,
           "image": 1.0,  # an image the user gave is a query of its own, not a tie-breaker
           # A question that quotes a segment (a line on screen, a sentence said) word for word:
           # as sharp as evidence gets, so a frame's vote can't reorder two chunks that share
           # words with it but only one quotes (issue 21's slide titles, BENCHMARKS.md).
           "phrase": 2.0}
MIN_PHRASE_WORDS = 2  # a single word is BM25's to find, not a quotation
_WORD = re.compile(r"[\w']+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be but by did do does for from had has have he her his how i in is it its of on or"
    " she so than that the their them then there they this to was we were what when where which who why"
    " will with would you your".split()
)


@dataclass
class _Candidate:
    video_id: str
    start_s: float
    end_s: float
    text: str
    score: float = 0.0
    signals: list[str] = field(default_factory=list)
    frame: Frame | None = None
    frame_only: bool = False
    seen: str = ""  # frame descriptions in its range
    screen: str = ""  # text on screen in its range
    visual: bool = False  # found through frame text alone (a description, screen text): the transcript comes later
    source: str = "speech"  # the text row's: "speech", "visual" or "screen"
    frame_number: int | None = None  # the frame the text was read from (the first), for a frame-text hit
    segments: tuple[Segment, ...] = ()  # the transcript segments of its range, once known


class Searcher:
    """Finds moments. Models load on the first search and are shared with ingest."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.frame_interval_s = 1.0 / settings.frame_fps
        self._executor: ThreadPoolExecutor | None = None
        self._warm = False  # whether a search has run end to end in this process
        # Searches at the same time (a server's) encode their questions in one batch per model.
        self._text_queries = QueryBatcher(settings.query_batch)
        self._clip_queries = QueryBatcher(settings.query_batch)

    def _start(self, work) -> Future:
        """`work` in a thread once a search has run end to end; before that, here and now."""
        if self._warm:
            if self._executor is None:
                # Two tasks per search, for as many searches as a server runs at once (anyio's 40
                # threads): with 2 workers CLIP's questions queued two at a time and never formed a batch.
                self._executor = ThreadPoolExecutor(max_workers=80, thread_name_prefix="vidrag-search")
            return self._executor.submit(work)
        done: Future = Future()
        done.set_result(work())
        return done

    def _text_model(self):
        model = load_text_embedder(self.settings.text_model, self.settings.resolved_device())
        self.store.check_model("text", model.name, model.dim)
        return model

    def _clip_model(self):
        s = self.settings
        model = load_clip_embedder(s.clip_model, s.clip_pretrained, s.resolved_device())
        return model if self.store.check_model("image", model.name, model.dim) else None

    def search(
        self,
        question: str,
        video_ids: Sequence[str] | None = None,
        k: int | None = None,
        signals: Sequence[str] = SIGNALS,
        image=None,
        speaker: str | None = None,
    ) -> list[Moment]:
        """The best `k` moments for `question`, from all videos or only `video_ids`. With `image`
        (a JPEG, PNG or WebP path), frames that look like it count as one more signal; with an
        image and no question, they are the only one. With `speaker` (a label such as "S2", or a
        name given to one), only what that speaker said (rag/retrieval/speaker_filter.py)."""
        from rag.retrieval.image_search import check_query_image

        k = k or self.settings.search_k
        image = check_query_image(image) if image is not None else None
        videos = {v.id: v for v in self.store.list_videos()}  # only committed videos are searched
        if video_ids:
            videos = {vid: v for vid, v in videos.items() if vid in set(video_ids)}
        question = question.strip()
        labels: dict[str, str] = {}
        if speaker and videos:
            labels = speaker_labels(videos, speaker)
            videos = {vid: videos[vid] for vid in labels}
            signals, image = tuple(s for s in signals if s in ("dense", "bm25")), None
        if not videos or not (question or image):
            return []
        # Milvus filters by video only when the user chose videos; otherwise rows of videos that
        # are not committed (an ingest under way, or one that died) are dropped here, which is
        # far cheaper than a filter listing every video in the library.
        only = list(videos) if video_ids or labels else None
        fetch = CANDIDATES * (WIDER if labels else 1) + (0 if only else LEFTOVER_MARGIN)

        def committed(hits, video_of):
            hits = [h for h in hits if video_of(h) in videos]
            return (rows_with_speaker(hits, labels) if labels else hits)[:CANDIDATES]

        # Two searches need no transcript embedding: CLIP's (its own text tower, then the frames)
        # and BM25's. Once warm they run beside MiniLM and the dense search: the encoders release
        # the GIL while Milvus Lite's Python works. Only after a first search has run everything
        # in order, since libraries import modules lazily on first use, and two threads importing
        # the same module at once can deadlock.
        frame_hits: Future | None = None
        image_hits: list = []
        if image is not None and (clip := self._clip_model()) is not None:
            image_hits = committed(self.store.search_frames(clip.embed_images([str(image)])[0].tolist(), fetch, only),
                                   lambda hit: hit[0])
        if not question:
            signals = ()
        if "clip" in signals and (clip := self._clip_model()) is not None:
            frame_hits = self._start(lambda: committed(
                self.store.search_frames(self._clip_queries.encode(question, clip.embed_text).tolist(), fetch, only),
                lambda hit: hit[0]))
        bm25_hits: Future | None = None
        if "bm25" in signals and (words := self._bm25_query(question, videos.values())):
            bm25_hits = self._start(lambda: committed(
                self.store.search_text(words, "sparse", fetch, only), lambda row: row["video_id"]))

        ranked: dict[str, list[dict]] = {}
        query_vector = self._text_queries.encode(question, self._text_model().embed_query) if question else None
        if "dense" in signals:
            hits = self.store.search_text(query_vector.tolist(), "dense", fetch, only)
            ranked["dense"] = committed(hits, lambda row: row["video_id"])
        if bm25_hits is not None:
            ranked["bm25"] = bm25_hits.result()

        candidates = (self._text_candidates(ranked, question, query_vector, lexical="bm25" in signals, labels=labels)
                      if ranked else [])
        candidates = fold_visual(candidates, self.frame_interval_s / 2, self.store)
        self._add_frames(candidates, frame_hits.result() if frame_hits is not None else [])
        self._add_frames(candidates, image_hits, signal="image")
        best = sorted(candidates, key=lambda c: -c.score)[:k]
        moments = self._moments(best, videos)
        if not self._warm and self.settings.is_milvus_lite:
            lite_speedup.freeze_long_lived()  # what the first search built (BM25 postings) stays
        self._warm = True
        return moments

    def _bm25_query(self, question: str, videos) -> str:
        """Only the content words: "who", "is", "the" would rank every chunk that has them. In
        a library analysed per language, the question's terms in each of the videos' languages
        and its own (rag/languages), as the rows were analysed."""
        if not self.store.bm25_analysed():
            return " ".join(sorted(_content_words(question)))
        languages = {video.language for video in videos} | {guess_language(question)}
        return " ".join(query_terms(question, languages))

    # --- transcript hits -------------------------------------------------------------------

    def _text_candidates(self, ranked, question, query_vector, lexical: bool, labels=None) -> list[_Candidate]:
        """One candidate per chunk hit, fused over the text signals and narrowed to the
        segments that match."""
        fused: dict[str, dict] = {}
        for signal, rows in ranked.items():
            for rank, row in enumerate(rows):
                entry = fused.setdefault(row["id"], {"row": row, "score": 0.0, "signals": []})
                entry["score"] += WEIGHTS[signal] / (RRF_K + rank + 1)
                entry["signals"].append(signal)
        top = sorted(fused.values(), key=lambda e: -e["score"])[:NARROW_CHUNKS]
        chunks = [_row_to_chunk(e["row"]) for e in top]
        allowed = None
        if labels:  # a speaker search: only that speaker's segments may make the moment
            allowed = [allowed_segments(c.segments, labels[e["row"]["video_id"]])
                       for c, e in zip(chunks, top, strict=True)]
        spans = narrow(chunks, [row_segment_vectors(e["row"]) for e in top], question, query_vector, lexical, allowed)
        # A chunk is 30 s of talk; its best segment is the evidence. Ranking the chunks again by
        # their best segment's score, as one more list in the fusion, lifts the chunk whose
        # matching sentence is the closest over one that is merely on the same subject.
        by_segment = sorted(range(len(top)), key=lambda i: -spans[i].score)
        for rank, i in enumerate(by_segment):
            top[i]["score"] += WEIGHTS["segment"] / (RRF_K + rank + 1)
        # One more list: the chunks with a segment the question quotes, the tightest quote first.
        coverage = [quoted_share(question, chunk) for chunk in chunks]
        quoting = sorted((i for i in range(len(top)) if coverage[i] > 0), key=lambda i: -coverage[i])
        for rank, i in enumerate(quoting):
            top[i]["score"] += WEIGHTS["phrase"] / (RRF_K + rank + 1)
        return [
            mark_visual(_Candidate(e["row"]["video_id"], span.start_s, span.end_s, span.text, e["score"], e["signals"],
                                   segments=span.segments), e["row"])
            for e, span in zip(top, spans, strict=True)
        ]

    # --- frame hits ------------------------------------------------------------------------

    def _add_frames(self, candidates: list[_Candidate], frame_hits, signal: str = "clip") -> None:
        """Fuse frames by time: a frame within half a sampling interval of a candidate of the same
        video joins it; any other frame is a moment of its own, its sampling window."""
        slack = self.frame_interval_s / 2
        for rank, (video_id, frame, _) in enumerate(frame_hits):
            bonus = WEIGHTS[signal] / (RRF_K + rank + 1)
            home = next(
                (c for c in candidates
                 if c.video_id == video_id and c.start_s - slack <= frame.timestamp_s <= c.end_s + slack),
                None,
            )
            if home is None:
                home = _Candidate(video_id, frame.timestamp_s, frame.timestamp_s + self.frame_interval_s, "",
                                  frame_only=True)
                candidates.append(home)
            if signal in home.signals:
                continue  # one vote per list: its best frame already counted
            home.score += bonus
            home.signals.append(signal)
            if signal == "image" or home.frame is None:
                home.frame = frame  # frame hits come best first; the image's match is the one to show

    # --- assembling moments ----------------------------------------------------------------

    def _moments(self, best: list[_Candidate], videos: dict[str, Video]) -> list[Moment]:
        """Moments from the best candidates: a frame for those without one, the transcript for
        those found by a frame alone, each fetched for all candidates in one query."""
        slack = self.frame_interval_s / 2
        need_frame = [c for c in best if c.frame is None and videos[c.video_id].has_video]
        # Frame n was sampled near n * interval, so the frames around a moment's middle can be
        # fetched by id; a window query covers the rare video whose numbering drifted.
        guesses = {(c.video_id, n) for c in need_frame
                   for middle in [round((c.start_s + c.end_s) / 2 / self.frame_interval_s)]
                   for n in (middle - 1, middle, middle + 1) if n >= 0}
        frames = self.store.frames_by_index(sorted(guesses))
        for attempt in ("by id", "by window"):
            for c in need_frame:
                middle = (c.start_s + c.end_s) / 2
                nearby = [f for vid, f in frames
                          if vid == c.video_id and c.start_s - slack <= f.timestamp_s <= c.end_s + slack]
                c.frame = min(nearby, key=lambda f: abs(f.timestamp_s - middle), default=None)
            need_frame = [c for c in need_frame if c.frame is None]
            if attempt == "by id" and need_frame:
                frames = self.store.frames_within([(c.video_id, c.start_s - slack, c.end_s + slack)
                                                   for c in need_frame])
        frame_only = [c for c in best if c.frame_only or c.visual]
        chunks = self.store.chunks_within([(c.video_id, c.start_s, c.end_s) for c in frame_only])
        for c in frame_only:
            duration = videos[c.video_id].duration_s
            c.end_s = min(c.end_s, duration) if duration else c.end_s
            segments = sorted({s for vid, chunk in chunks if vid == c.video_id for s in chunk.segments
                               if s.end_s > c.start_s and s.start_s < c.end_s}, key=lambda s: s.start_s)
            c.text, c.segments = " ".join(s.text for s in segments), tuple(segments)
        attach_frame_text(best, self.store)
        moments = []
        for c in best:
            speakers, turns = said_by(c.segments, videos[c.video_id])
            moments.append(Moment(c.video_id, videos[c.video_id].name, c.start_s, c.end_s, turns or c.text, c.frame,
                                  c.score, tuple(s for s in SIGNALS if s in c.signals), c.seen, c.screen, speakers))
        return moments


@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float
    text: str
    score: float  # the best segment's: cosine similarity plus the word-overlap bonus
    segments: tuple[Segment, ...] = ()


def narrow(chunks: list[Chunk], segment_vectors: list[np.ndarray], question: str, query_vector: np.ndarray,
           lexical: bool = True, allowed: list[list[bool]] | None = None) -> list[Span]:
    """For each chunk, the contiguous run of its segments that best matches the question.
    Segments are scored by cosine similarity (their vectors were stored at ingest, one row per
    segment) plus (when `lexical`) a bonus for the question's words they contain, which is what
    finds names the dense model doesn't know. With `allowed` (per chunk, a flag per segment), the
    run holds allowed segments only (one speaker's)."""
    if not any(chunk.segments for chunk in chunks):
        return [Span(c.start_s, c.end_s, c.text, 0.0) for c in chunks]
    vectors = np.concatenate([v for c, v in zip(chunks, segment_vectors, strict=True) if c.segments])
    similarity = vectors @ query_vector
    words = _content_words(question) if lexical else set()
    spans = []
    at = 0
    for number, chunk in enumerate(chunks):
        count = len(chunk.segments)
        if count == 0:
            spans.append(Span(chunk.start_s, chunk.end_s, chunk.text, 0.0))
            continue
        scores = [
            float(similarity[at + i]) + LEXICAL_WEIGHT * _word_overlap(words, seg)
            if allowed is None or allowed[number][i] else -np.inf
            for i, seg in enumerate(chunk.segments)
        ]
        at += count
        best = int(np.argmax(scores))
        first = last = best
        while first > 0 and scores[first - 1] >= scores[best] - SEGMENT_MARGIN:
            first -= 1
        while last < count - 1 and scores[last + 1] >= scores[best] - SEGMENT_MARGIN:
            last += 1
        run = chunk.segments[first : last + 1]
        spans.append(Span(run[0].start_s, run[-1].end_s, " ".join(s.text for s in run), scores[best], tuple(run)))
    return spans


def quoted_share(question: str, chunk: Chunk) -> float:
    """How much of the segment that the question quotes word for word (in order, ignoring case
    and punctuation) the quote covers, 0..1; 0 when no segment holds it, or for a question of
    fewer than MIN_PHRASE_WORDS words. Pure."""
    quote = [w.lower() for w in _WORD.findall(question)]
    if len(quote) < MIN_PHRASE_WORDS:
        return 0.0
    best = 0.0
    for segment in chunk.segments:
        words = [w.lower() for w in _WORD.findall(segment.text)]
        if any(words[i : i + len(quote)] == quote for i in range(len(words) - len(quote) + 1)):
            best = max(best, len(quote) / len(words))
    return best


def _content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) > 2 and w not in _STOPWORDS}


def _word_overlap(words: set[str], segment: Segment) -> float:
    if not words:
        return 0.0
    return len(words & _content_words(segment.text)) / len(words)
