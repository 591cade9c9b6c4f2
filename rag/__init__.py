"""vidrag's core: settings, domain types, models, the Milvus store, search and answers.

    import rag
    moments = rag.search("when does the bird wake up?")
    answer = rag.answer("what happens after that?", history=[...])
    for text in answer: print(text, end="")
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.settings import Settings, load_settings
from rag.types import Moment

HISTORY_TURNS_FOR_SEARCH = 2  # earlier questions that go into the search for a follow-up


class Library:
    """Search and answers over one vidrag library (a data dir, or a Milvus server)."""

    def __init__(self, settings: Settings | None = None, store=None):
        from rag.retrieval.search import Searcher
        from rag.store import Store

        self.settings = settings or load_settings()
        self.store = store or Store(self.settings)
        self.searcher = Searcher(self.settings, self.store)

    def search(self, question: str, video_ids: Sequence[str] | None = None, k: int | None = None,
               speaker: str | None = None) -> list[Moment]:
        return self.searcher.search(question, video_ids=video_ids, k=k, speaker=speaker)

    def answer(self, question: str, history: Sequence[dict] = (), video_ids: Sequence[str] | None = None):
        """Retrieve moments for the question (and, for a follow-up, the questions before it) and
        prepare the VLM request. Nothing is sent until the returned Answer is iterated."""
        from rag.answering.answer import Answer
        from rag.answering.clips import clip_context
        from rag.answering.prompt import build_prompt, counter_for

        s = self.settings
        moments = self.search(search_query(question, history), video_ids=video_ids)
        if not moments:
            return Answer(question, [], None, s)
        prompt = build_prompt(
            question, moments, history,
            max_images=s.vlm_max_images, image_max_side=s.vlm_image_max_side,
            budget_tokens=s.vlm_context_tokens - s.vlm_max_tokens, counter=counter_for(s.vlm_model),
            clips=clip_context(s, self.store, moments),
        )
        return Answer(question, prompt.moments, prompt, s)

    def close(self) -> None:
        self.store.close()


def search_query(question: str, history: Sequence[dict]) -> str:
    """What to search for: the question, after the last few questions of the conversation, so
    "and what happens after that?" still finds the moments the conversation is about."""
    earlier = [t["content"] for t in history if t.get("role") == "user" and isinstance(t.get("content"), str)]
    return "\n".join([*earlier[-HISTORY_TURNS_FOR_SEARCH:], question])


_default: Library | None = None


def _library() -> Library:
    global _default
    if _default is None:
        _default = Library()
    return _default


def search(question: str, video_ids: Sequence[str] | None = None, k: int | None = None) -> list[Moment]:
    """The best moments for a question, from the library the VIDRAG_ settings point at."""
    return _library().search(question, video_ids=video_ids, k=k)


def answer(question: str, history: Sequence[dict] = (), video_ids: Sequence[str] | None = None):
    """A streamed, cited answer from the configured VLM, with the moments it stands on."""
    return _library().answer(question, history=history, video_ids=video_ids)
