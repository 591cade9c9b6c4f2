"""The HTTP API at /api/v1 (FastAPI, for its OpenAPI schema and request validation).

Every route speaks JSON; every error is `{"error": "one line"}` with a 4xx/5xx status. Adds are
durable jobs: the 202 goes out after the job is on disk (ingest/jobs.py).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Annotated

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rag.errors import AnswerError, IngestError, VidragError, first_line
from rag.speakers import named
from rag.videos.captions import TRANSCRIPT_FORMATS, format_transcript
from vidrag.server.api_videos import add_video_routes
from vidrag.server.services import Services

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
MEDIA_TYPES = {"text": "text/plain; charset=utf-8", "json": "application/json", "srt": "application/x-subrip",
               "webvtt": "text/vtt; charset=utf-8"}


VideoFilter = Annotated[list[str] | None, Query(description="Only this video (repeatable).")]
HowMany = Annotated[int | None, Query(ge=1, le=50, description="How many moments (default VIDRAG_SEARCH_K).")]
SignalFilter = Annotated[list[str] | None, Query(description="Only this ranked list: dense, bm25, clip or image "
                                                 "(repeatable; default all).")]


class AddRequest(BaseModel):
    path: str | None = Field(None, description="A media file on the server's disk (absolute path).")
    url: str | None = Field(None, description="A video page or a direct media link, fetched with yt-dlp.")
    name: str | None = Field(None, description="What the library shows for a path (default: its file name).")


class AskRequest(BaseModel):
    question: str = Field(..., description="A question about the videos.")
    video_ids: list[str] | None = Field(None, description="Only these videos.")


class Failure(Exception):
    """An API error: a status and one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def build_api(get_services: Callable[[], Services]) -> FastAPI:
    api = FastAPI(title="vidrag", version="1", openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  description="Search, ask and manage a vidrag library.")
    _error_handlers(api)

    @api.get("/health")
    def health() -> dict:
        """The server answers; the data folder it holds."""
        services = get_services()
        return {"ok": True, "data_dir": str(services.settings.data_dir.resolve())}

    @api.get("/videos")
    def list_videos() -> dict:
        """Every indexed video."""
        services = get_services()
        return {"videos": [_video_json(services, v) for v in services.library.store.list_videos()]}

    @api.get("/videos/{video_id}")
    def get_video(video_id: str) -> dict:
        services = get_services()
        return _video_json(services, _find(services, video_id))

    @api.delete("/videos/{video_id}")
    def remove_video(video_id: str) -> dict:
        """Delete a video with its frames and files."""
        services = get_services()
        video = services.ingestor.remove(_find(services, video_id).id)
        return {"removed": _video_json(services, video)}

    @api.post("/videos", status_code=202)
    async def add_videos(request: Request) -> JSONResponse:
        """Add by upload (multipart: `file`, repeatable, with optional subtitles named like their
        video), by a path on the server's disk (`{"path"}`), or by URL (`{"url"}`). 202: a job."""
        services = get_services()
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            jobs = await _add_uploads(services, request)
        else:
            try:
                body = AddRequest.model_validate(await request.json())
            except (ValueError, TypeError) as e:
                raise Failure(422, f"expected multipart files, or JSON with path or url ({first_line(e)})") from e
            jobs = [_add_json(services, body)]
        return JSONResponse({"job_id": jobs[0].id, "jobs": [j.to_json() for j in jobs]}, status_code=202)

    @api.get("/videos/{video_id}/transcript")
    def transcript(video_id: str, format: Annotated[str, Query(description="text, json, srt or webvtt")] = "json"):
        if format not in TRANSCRIPT_FORMATS:
            raise Failure(422, f"unknown format {format!r}; one of {', '.join(TRANSCRIPT_FORMATS)}")
        services = get_services()
        video = _find(services, video_id)
        said = named(services.library.store.video_text(video.id).said, video)
        return PlainTextResponse(format_transcript(said, format), media_type=MEDIA_TYPES[format])

    @api.get("/search")
    def search(q: str = "", video: VideoFilter = None, k: HowMany = None, tag: str | None = None,
               signal: SignalFilter = None,
               speaker: Annotated[str | None, Query(description="Only what this speaker said: S2, or a name")] = None,
               ) -> dict:
        """Moments that match the words `q`; `video` (repeatable), `tag` and `speaker` narrow them;
        `signal` (repeatable) keeps only those ranked lists, as `vidrag eval --signals` compares them."""
        return {"moments": _search(get_services(), q, video, k, tag, None, signal, speaker)}

    @api.post("/search")
    def search_image(image: Annotated[UploadFile, File()], q: str = "", video: VideoFilter = None,
                     k: HowMany = None, tag: str | None = None) -> dict:
        """Moments that look like the uploaded image (and match `q`, if given)."""
        suffix = PurePath(image.filename or "").suffix.lower()[:8] or ".jpg"
        with tempfile.NamedTemporaryFile(suffix=suffix) as saved:
            saved.write(image.file.read())
            saved.flush()
            return {"moments": _search(get_services(), q, video, k, tag, saved.name)}

    @api.post("/ask")
    def ask(body: AskRequest) -> StreamingResponse:
        """Server-sent events: `answer` events with pieces of text, then one `done` event with
        the answer, citations and moments (or an `error` event with the moments found)."""
        if not body.question.strip():
            raise Failure(422, "question is empty")
        services = get_services()
        _check_videos(services, body.video_ids)
        answer = services.library.answer(body.question, video_ids=body.video_ids)
        return StreamingResponse(_answer_events(answer), media_type="text/event-stream")

    add_video_routes(api, get_services, _find, Failure)

    @api.get("/jobs")
    def list_jobs() -> dict:
        """Active jobs and the latest finished ones, oldest first."""
        return {"jobs": [j.to_json() for j in get_services().jobs.jobs()]}

    @api.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict:
        job = get_services().jobs.get(job_id)
        if job is None:
            raise Failure(404, f"no job with id {job_id}")
        return job.to_json()

    return api


def _error_handlers(api: FastAPI) -> None:
    def reply(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    api.add_exception_handler(Failure, lambda request, e: reply(e.status, str(e)))
    api.add_exception_handler(IngestError, lambda request, e: reply(422, str(e)))
    api.add_exception_handler(VidragError, lambda request, e: reply(400, str(e)))
    api.add_exception_handler(HTTPException, lambda request, e: reply(e.status_code, str(e.detail)))

    def invalid(request, e: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'][1:]) or 'body'}: {err['msg']}"
                             for err in e.errors())
        return reply(422, f"bad request: {problems}")

    def bug(request, e: Exception) -> JSONResponse:
        log.exception("API error on %s", request.url.path)
        return reply(500, f"{type(e).__name__}: {first_line(e)}")

    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(Exception, bug)


def _find(services: Services, video_id: str):
    from rag.videos.search import find_video

    try:
        return find_video(services.library.store, video_id)
    except VidragError as e:
        raise Failure(404, str(e)) from e


def _check_videos(services: Services, video_ids) -> None:
    known = {v.id for v in services.library.store.list_videos()}
    unknown = [v for v in video_ids or () if v not in known]
    if unknown:
        raise Failure(404, f"no video with id {unknown[0]}")


def _video_json(services: Services, video) -> dict:
    from rag.videos.search import listed_video

    return listed_video(services.library.store, video)


def _search(services: Services, q: str, video_ids, k, tag, image, signals=None, speaker=None) -> list[dict]:
    from rag.retrieval.search import SIGNALS

    if not q.strip() and not image:
        raise Failure(422, "give a query q, an image, or both")
    if speaker is not None and (tag or not speaker.strip()):
        raise Failure(422, "speaker and tag do not go together" if speaker.strip() else "speaker is empty")
    _check_videos(services, video_ids)
    searcher = services.library.searcher
    if signals:
        unknown = [s for s in signals if s not in SIGNALS]
        if unknown:
            raise Failure(422, f"unknown signal {unknown[0]!r}; one of {', '.join(SIGNALS)}")
        if tag:
            raise Failure(422, "signal and tag do not go together")
        return [m.to_json() for m in searcher.search(q, video_ids=video_ids, k=k, signals=tuple(signals),
                                                     speaker=speaker)]
    if tag:
        from rag.retrieval.tags import search_with_tag

        moments = search_with_tag(searcher, q, tag, video_ids=video_ids, k=k, image=image)
    else:
        moments = searcher.search(q, video_ids=video_ids, k=k, image=image, speaker=speaker)
    return [m.to_json() for m in moments]


def _answer_events(answer):
    def event(name: str, data: dict) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    moments = [m.to_json() for m in answer.moments]
    if not answer.moments:
        yield event("done", {"answer": "", "citations": [], "moments": [], "prompt_tokens": 0})
        return
    try:
        for piece in answer:
            yield event("answer", {"text": piece})
    except AnswerError as e:
        yield event("error", {"error": str(e), "moments": moments, "cut": answer.cut})
        return
    yield event("done", {"answer": answer.text, "citations": [c.to_json() for c in answer.citations],
                         "moments": moments, "prompt_tokens": answer.prompt_tokens, "cut": answer.cut})


async def _add_uploads(services: Services, request: Request) -> list:
    from ingest.probe import probe
    from ingest.uploads import save_uploads

    form = await request.form(max_files=64)
    files = [(value.filename or "upload", value.file) for _, value in form.multi_items() if hasattr(value, "file")]
    if not files:
        raise Failure(422, "no file in the upload (send it as the multipart field 'file')")
    uploads = save_uploads(files, services.settings.data_dir / "uploads")
    await form.close()
    if not uploads:
        raise Failure(415, "no media file in the upload (video or audio, such as .mp4 or .mp3)")
    try:
        for upload in uploads:  # refused now, in one line, rather than accepted and failed later
            try:
                probe(str(upload.path))
            except IngestError as e:
                message = str(e).replace(str(upload.path), upload.name).replace(upload.path.name, upload.name)
                raise Failure(422, message) from e
    except Failure:
        for upload in uploads:
            upload.path.unlink(missing_ok=True)
            if upload.subtitles:
                upload.subtitles.unlink(missing_ok=True)
        raise
    return [services.jobs.submit(upload) for upload in uploads]


def _add_json(services: Services, body: AddRequest):
    from ingest.pipeline import MEDIA_SUFFIXES
    from ingest.probe import probe

    if bool(body.path) == bool(body.url):
        raise Failure(422, "give exactly one of path or url")
    if body.url:
        return services.jobs.submit_url(body.url)
    path = Path(body.path)
    if not path.is_absolute():
        raise Failure(422, f"{body.path}: give an absolute path on the server's disk")
    if not path.is_file():
        raise Failure(422, f"{body.path}: no such file on the server")
    if path.suffix.lower() not in MEDIA_SUFFIXES:
        raise Failure(415, f"{path.name}: not a media file vidrag takes")
    probe(str(path))
    return services.jobs.submit_path(path, body.name)
