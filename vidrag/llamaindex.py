"""vidrag as a LlamaIndex data source: a retriever, a query engine and an agent tool over an
existing library. vidrag keeps its own search (dense, BM25 and CLIP fused by time) and its own
answer path; this module only translates them into LlamaIndex's types.

    from rag import Library
    from vidrag.llamaindex import VidragRetriever, vidrag_query_engine, vidrag_tool

Importing this module imports llama-index-core (a few seconds); nothing else in vidrag does, so
the app and the CLIs start as fast as before.

Why the query engine is not a RetrieverQueryEngine over `OpenAILike`: every release of
llama-index-llms-openai-like needs openai<3 (through llama-index-llms-openai) or transformers<5,
and vidrag pins openai 3.52 and transformers 5.23. Its answers would also lose what vidrag's
answer path does: the frames as image parts, the prompt fitted to the VLM's context with
Pixtral's tokenizer, and citations mapped to moments. So `vidrag_query_engine` is a
CustomQueryEngine that calls `Library.answer`, which sends exactly the request the app sends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import ImageNode, NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from rag.clock import format_clock
from rag.errors import AnswerError
from rag.links import video_url
from rag.types import Moment, Video

NO_MOMENTS = "No matching moments: the videos don't seem to cover this."
# What the LLM reading a node sees, besides its text; paths and ids stay out of its prompt.
HIDDEN_FROM_LLM = ["video_id", "url", "signals", "image_path", "frame_path", "screen"]  # screen: in the text


def _default_library():
    from rag import _library

    return _library()


# --- moments -> nodes (pure) ----------------------------------------------------------------


def moment_text(moment: Moment) -> str:
    """What was said and, where the frames have descriptions or text on screen, what was seen
    and what was written."""
    said = moment.text or "(no speech)"
    if not (moment.seen or moment.screen):
        return said
    parts = [f"Said: {said}", *([f"Seen: {moment.seen}"] if moment.seen else []),
             *([f"Written on screen: {moment.screen}"] if moment.screen else [])]
    return "\n".join(parts)


def moment_nodes(moment: Moment, video: Video | None, frames: bool = True) -> list[NodeWithScore]:
    """A TextNode for the moment and, when it has a frame, an ImageNode for that frame, both
    scored with the moment's fused score. Ids follow from the content, so the same moment is
    the same node in every call."""
    metadata = {
        "video_id": moment.video_id,
        "video_name": moment.video_name,
        "start_s": round(moment.start_s, 3),
        "end_s": round(moment.end_s, 3),
        "time": f"[{format_clock(moment.start_s)}]-[{format_clock(moment.end_s)}]",
        "signals": list(moment.signals),
        "screen": moment.screen,
        "url": video_url(video, moment.start_s, moment.end_s),
    }
    if moment.speakers:  # shown to the LLM: "who said it?" needs it
        metadata["speakers"] = ", ".join(moment.speakers)
    if moment.frame:
        metadata["frame_path"] = moment.frame.path
    text_id = f"{moment.video_id}:{moment.start_s:.3f}-{moment.end_s:.3f}"
    text = TextNode(id_=text_id, text=moment_text(moment), metadata=metadata,
                    excluded_llm_metadata_keys=HIDDEN_FROM_LLM, excluded_embed_metadata_keys=HIDDEN_FROM_LLM)
    nodes = [NodeWithScore(node=text, score=moment.score)]
    if frames and moment.frame:
        at = moment.frame.timestamp_s
        image = ImageNode(
            id_=f"{moment.video_id}:frame:{at:.3f}",
            text=f"Frame of {moment.video_name} at [{format_clock(at)}]",
            image_path=moment.frame.path,
            image_mimetype="image/jpeg",
            metadata={**metadata, "timestamp_s": round(at, 3), "url": video_url(video, at),
                      "image_path": moment.frame.path},
            excluded_llm_metadata_keys=HIDDEN_FROM_LLM, excluded_embed_metadata_keys=HIDDEN_FROM_LLM,
        )
        image.relationships[NodeRelationship.PARENT] = RelatedNodeInfo(node_id=text_id)
        nodes.append(NodeWithScore(node=image, score=moment.score))
    return nodes


def moments_to_nodes(moments: Sequence[Moment], videos: dict[str, Video], frames: bool = True) -> list[NodeWithScore]:
    return [node for m in moments for node in moment_nodes(m, videos.get(m.video_id), frames)]


def _videos(library) -> dict[str, Video]:
    return {v.id: v for v in library.store.list_videos()}


# --- retriever ------------------------------------------------------------------------------


class VidragRetriever(BaseRetriever):
    """vidrag's search as a LlamaIndex retriever. Each moment is a TextNode (what was said, and
    seen where frames are described) with `video_id`, `video_name`, `start_s`, `end_s`,
    `signals` and a `url` that opens the video there; each moment's frame is an ImageNode
    (`image_path`) right after it. `video_ids` limits the search to those videos, `k` is the
    number of moments (default VIDRAG_SEARCH_K); `frames=False` leaves the ImageNodes out."""

    def __init__(self, library=None, *, video_ids: Sequence[str] | None = None, k: int | None = None,
                 frames: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.library = library or _default_library()
        self.video_ids = list(video_ids) if video_ids is not None else None
        self.k = k
        self.frames = frames

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        moments = self.library.search(query_bundle.query_str, video_ids=self.video_ids, k=self.k)
        return moments_to_nodes(moments, _videos(self.library), self.frames)


# --- query engine ---------------------------------------------------------------------------


class VidragQueryEngine(CustomQueryEngine):
    """Answers from the VLM endpoint in vidrag's settings, through vidrag's own answer path:
    the moments' transcripts and best frames (as image parts) go to the endpoint, and the
    answer cites [mm:ss]. `source_nodes` are the moments the answer stands on; `metadata`
    gets `citations` and `prompt_tokens` once the answer is complete. A failing endpoint
    raises AnswerError (one line, naming it) while the answer is read."""

    library: Any
    video_ids: list[str] | None = None
    streaming: bool = True

    def custom_query(self, query_str: str):
        answer = self.library.answer(query_str, video_ids=self.video_ids)
        if not answer.moments:
            metadata = {"citations": [], "prompt_tokens": 0}
            if self.streaming:
                return StreamingResponse(response_gen=iter([NO_MOMENTS]), source_nodes=[], metadata=metadata)
            return Response(NO_MOMENTS, source_nodes=[], metadata=metadata)
        nodes = moments_to_nodes(answer.moments, _videos(self.library))
        metadata: dict[str, Any] = {"prompt_tokens": answer.prompt_tokens}
        if not self.streaming:
            text = "".join(answer)
            metadata["citations"] = [c.to_json() for c in answer.citations]
            return Response(text, source_nodes=nodes, metadata=metadata)
        return StreamingResponse(response_gen=_streamed(answer, metadata), source_nodes=nodes, metadata=metadata)


def _streamed(answer, metadata: dict) -> Iterator[str]:
    yield from answer
    metadata["citations"] = [c.to_json() for c in answer.citations]


def vidrag_query_engine(library=None, *, video_ids: Sequence[str] | None = None,
                        streaming: bool = True) -> VidragQueryEngine:
    """A query engine over the library (default: the one the VIDRAG_ settings point at)."""
    return VidragQueryEngine(library=library or _default_library(),
                             video_ids=list(video_ids) if video_ids is not None else None, streaming=streaming)


# --- agent tool -----------------------------------------------------------------------------


def library_description(library, max_listed: int = 20) -> str:
    """What an agent should know to pick the tool: what the library holds, and what comes back."""
    videos = library.store.list_videos()
    total = format_clock(sum(v.duration_s for v in videos))
    listed = "; ".join(f"{v.name} ({format_clock(v.duration_s)}, id {v.id})" for v in videos[:max_listed])
    more = f"; and {len(videos) - max_listed} more" if len(videos) > max_listed else ""
    count = f"{len(videos)} video" + ("" if len(videos) == 1 else "s")
    holds = f"{count}, {total} in all: {listed}{more}." if videos else "no videos yet."
    return (
        "Answers questions about the user's own videos from what is said and shown in them, citing "
        "[mm:ss] times, and lists the moments used (video, time range, transcript). "
        f"The library holds {holds} Pass a question in plain language; to ask about some videos "
        "only, pass their ids as video_ids."
    )


def vidrag_tool(library=None, *, name: str = "video_library"):
    """A FunctionTool for LlamaIndex agents: `question` (and optional `video_ids`) in, the answer
    with its sources out. When the VLM endpoint fails, the tool returns the best moments and the
    one-line reason instead of raising, so the agent can still use them."""
    from llama_index.core.tools import FunctionTool

    library = library or _default_library()

    def ask_videos(question: str, video_ids: list[str] | None = None) -> str:
        """Answer a question from the videos, with cited times and the moments used."""
        answer = library.answer(question, video_ids=video_ids)
        if not answer.moments:
            return NO_MOMENTS
        try:
            text = "".join(answer)
        except AnswerError as e:
            text = f"(no answer: {e}; the best moments follow)"
        sources = [f"- {m.video_name} [{format_clock(m.start_s)}]-[{format_clock(m.end_s)}] "
                   f"(video_id {m.video_id}): {moment_text(m)}" for m in answer.moments]
        return "\n".join([text, "", "Sources:", *sources])

    return FunctionTool.from_defaults(fn=ask_videos, name=name, description=library_description(library))
