"""`vidrag mcp`: the library as an MCP server (the official `mcp` SDK), over stdio, or over
streamable HTTP on 127.0.0.1 with --http.

Tools: search_moments, ask, list_videos, get_transcript, summarize. Every failure a caller can cause or
meet (bad arguments, an unknown video, a database held by another process, a VLM that is down)
comes back as a tool error with a one-line message; the server keeps running.

The library is opened on the first tool call and kept: with Milvus Lite, whichever process
opens the database first owns it (the app, an ingest, or this server), and the other is told
so. A Milvus server (VIDRAG_MILVUS_URI) has no such limit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ImageContent, TextContent
from pydantic import Field, ValidationError

from rag.errors import AnswerError, VidragError, first_line
from rag.links import video_url
from rag.settings import Settings
from rag.speakers import named
from rag.types import Moment

SERVER_NAME = "vidrag"
DEFAULT_HTTP_PORT = 8765
MAX_K = 50  # as VIDRAG_SEARCH_K allows
INSTRUCTIONS = (
    "vidrag searches the user's own videos by what is said and shown in them. Use list_videos to see "
    "what the library holds, search_moments to find the moments about something (with times), ask "
    "for a cited answer from the vision-language model, get_transcript to read a stretch of a "
    "video, and summarize for a video's summary and chapters. Times are seconds from the start of "
    "the video."
)

VideoIds = Annotated[list[str] | None, Field(description="Only these videos (ids from list_videos); default: all")]
IncludeFrames = Annotated[bool, Field(description="Also return each moment's frame as an image")]


class _OneLineErrors(MCPServer):
    """The SDK reports bad arguments with pydantic's multi-line text; a caller gets one line."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context=None):
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            if isinstance(e.__cause__, ValidationError):
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                    for err in e.__cause__.errors()
                )
                raise ToolError(f"bad arguments for {name}: {problems}") from e.__cause__
            raise


class VidragTools:
    """The tools' bodies, over one library opened on first use. Calls are served one at a time:
    the SDK runs each in a worker thread, and one Milvus connection with lazily loaded models is
    not something to enter from several threads at once."""

    def __init__(self, settings: Settings, library=None, open_library=None):
        self.settings = settings
        self._library = library
        self._open_library = open_library  # the server's shared library, opened when first needed
        self._lock = threading.Lock()

    def library(self):
        if self._library is None and self._open_library is not None:
            self._library = self._open_library()
        if self._library is None:
            from rag import Library

            self._library = Library(self.settings)  # StoreLockedError says who to stop
        return self._library

    def search_moments(self, query: str, video_ids: Sequence[str] | None, k: int | None,
                       include_frames: bool, speaker: str | None = None) -> CallToolResult:
        if not query.strip():
            raise VidragError("query is empty")
        library = self.library()
        self._check_videos(library, video_ids)
        moments = library.search(query, video_ids=video_ids, k=k, speaker=speaker or None)
        return self._result({"moments": self._moments_json(library, moments)}, moments, include_frames)

    def ask(self, question: str, video_ids: Sequence[str] | None, include_frames: bool) -> CallToolResult:
        if not question.strip():
            raise VidragError("question is empty")
        library = self.library()
        self._check_videos(library, video_ids)
        answer = library.answer(question, video_ids=video_ids)
        moments_json = self._moments_json(library, answer.moments)
        try:
            text = "".join(answer)
        except AnswerError as e:
            # The moments still stand; they go with the one-line error, as the CLI shows them.
            failed = self._result({"error": str(e), "moments": moments_json}, answer.moments, include_frames)
            failed.content.insert(0, TextContent(type="text", text=f"{e} (the moments found follow)"))
            failed.is_error = True
            return failed
        data = {
            "answer": text if answer.moments else "No matching moments: the videos don't seem to cover this.",
            "citations": [c.to_json() for c in answer.citations],
            "moments": moments_json,
            "prompt_tokens": answer.prompt_tokens,
        }
        return self._result(data, answer.moments, include_frames)

    def list_videos(self) -> CallToolResult:
        videos = self.library().store.list_videos()
        listed = [{**v.to_json(), "file": v.file, "url": video_url(v, 0)} for v in videos]
        for item in listed:
            item.pop("extra", None)
        return self._result({"videos": listed}, [], False)

    def get_transcript(self, video_id: str, start_s: float | None, end_s: float | None) -> CallToolResult:

        if start_s is not None and end_s is not None and end_s < start_s:
            raise VidragError(f"end_s ({end_s:g}) is before start_s ({start_s:g})")
        store = self.library().store
        video = self._video(store, video_id)
        start = start_s if start_s is not None else 0.0
        end = end_s if end_s is not None else float("inf")
        said, seen, screen = store.video_text(video.id)
        said = named(said, video)

        def within(segments) -> list[dict]:
            return [{"start_s": round(s.start_s, 3), "end_s": round(s.end_s, 3), "text": s.text,
                     **({"speaker": s.speaker} if s.speaker else {})}
                    for s in segments if s.end_s >= start and s.start_s <= end]

        data = {"video_id": video.id, "video_name": video.name, "duration_s": video.duration_s,
                "language": video.language, "transcript_source": video.transcript_source,
                "segments": within(said), "seen": within(seen), "screen": within(screen)}
        return self._result(data, [], False)

    def summarize(self, video_id: str, force: bool) -> CallToolResult:
        from rag.videos.summarize import summarize_video

        library = self.library()
        video = self._video(library.store, video_id)
        summary = summarize_video(library.store, library.settings, video.id, force=force)
        return self._result({**summary.to_json(), "video_name": video.name}, [], False)

    # --- helpers ---------------------------------------------------------------------------

    def guarded(self, work):
        """Run a tool body: one call at a time, our errors as one-line tool errors."""
        with self._lock:
            try:
                return work()
            except VidragError as e:
                raise ToolError(str(e)) from e
            except Exception as e:
                raise ToolError(f"{type(e).__name__}: {first_line(e)}") from e

    @staticmethod
    def _video(store, video_id: str):
        video = store.get_video(video_id)
        if video is None:
            raise VidragError(f"no video with id {video_id!r}; list_videos gives the ids")
        return video

    @staticmethod
    def _check_videos(library, video_ids: Sequence[str] | None) -> None:
        if video_ids is None:
            return
        known = {v.id for v in library.store.list_videos()}
        unknown = [v for v in video_ids if v not in known]
        if unknown or not video_ids:
            raise VidragError(f"no video with id {unknown[0]!r}; list_videos gives the ids" if unknown
                              else "video_ids is empty; leave it out to search every video")

    @staticmethod
    def _moments_json(library, moments: Sequence[Moment]) -> list[dict]:
        videos = {v.id: v for v in library.store.list_videos()} if moments else {}
        return [{**m.to_json(), "url": video_url(videos.get(m.video_id), m.start_s, m.end_s)} for m in moments]

    def _result(self, data: dict, moments: Sequence[Moment], include_frames: bool) -> CallToolResult:
        """JSON text for the model to read, the same as structured content, and the frames."""
        content: list = [TextContent(type="text", text=json.dumps(data, ensure_ascii=False, indent=1))]
        if include_frames:
            content += [_frame_image(m, self.settings.vlm_image_max_side) for m in moments if m.frame]
        return CallToolResult(content=content, structured_content=data)


def _frame_image(moment: Moment, max_side: int) -> ImageContent:
    from rag.answering.prompt import jpeg_data_url

    data = jpeg_data_url(moment.frame.path, max_side).split(",", 1)[1]
    return ImageContent(type="image", data=data, mime_type="image/jpeg")


def build_server(settings: Settings, library=None, open_library=None) -> MCPServer:
    tools = VidragTools(settings, library, open_library)
    server = _OneLineErrors(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(description=(
        "Find the moments of the user's videos that match a query: video, start and end seconds, the "
        "transcript of that stretch, its frame, and a file URL opening the video there."))
    def search_moments(
        query: Annotated[str, Field(description="What to look for, in plain language")],
        video_ids: VideoIds = None,
        k: Annotated[int | None, Field(ge=1, le=MAX_K, description="How many moments (default 5)")] = None,
        include_frames: IncludeFrames = False,
        speaker: Annotated[str | None, Field(description="Only what this speaker said: a label such as S2, "
                                                         "or a name given to one")] = None,
    ) -> CallToolResult:
        return tools.guarded(lambda: tools.search_moments(query, video_ids, k, include_frames, speaker))

    @server.tool(description=(
        "Answer a question from the videos with the vision-language model: the answer text citing "
        "[mm:ss] times, the citations mapped to moments, and the moments used."))
    def ask(
        question: Annotated[str, Field(description="A question about the videos")],
        video_ids: VideoIds = None,
        include_frames: IncludeFrames = False,
    ) -> CallToolResult:
        return tools.guarded(lambda: tools.ask(question, video_ids, include_frames))

    @server.tool()
    def list_videos() -> CallToolResult:
        """The videos in the library: id, name, duration in seconds, frames, language."""
        return tools.guarded(tools.list_videos)

    @server.tool(description=(
        "What is said in a video (segments, each with its speaker where speakers were told apart) and, "
        "where its frames are described, what is seen (seen), "
        "with start and end seconds, optionally between two times."))
    def get_transcript(
        video_id: Annotated[str, Field(description="A video id from list_videos")],
        start_s: Annotated[float | None, Field(ge=0, description="From this second (default: start)")] = None,
        end_s: Annotated[float | None, Field(ge=0, description="Up to this second (default: end)")] = None,
    ) -> CallToolResult:
        return tools.guarded(lambda: tools.get_transcript(video_id, start_s, end_s))

    @server.tool(description=(
        "A video's summary and chapters (start second and title), written by the vision-language model "
        "the first time they are asked for and kept."))
    def summarize(
        video_id: Annotated[str, Field(description="A video id from list_videos")],
        force: Annotated[bool, Field(description="Write them again, even if they exist")] = False,
    ) -> CallToolResult:
        return tools.guarded(lambda: tools.summarize(video_id, force))

    return server


def serve(settings: Settings, http: bool = False, port: int = DEFAULT_HTTP_PORT) -> int:
    """Serve until the client goes away (stdio) or Ctrl-C (HTTP)."""
    server = build_server(settings)
    if http:
        import sys

        _check_port(port)
        print(f"vidrag MCP server on http://127.0.0.1:{port}/mcp", file=sys.stderr)
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")
    return 0


def _check_port(port: int, host: str = "127.0.0.1") -> None:
    """A taken or impossible port is one line from us, before anything claims to be serving."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except (OSError, OverflowError) as e:
            raise VidragError(f"cannot listen on {host}:{port} ({first_line(e)}); choose another --port") from e
