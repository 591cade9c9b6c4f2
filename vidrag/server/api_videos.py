"""Whole videos over the API: what `vidrag videos|similar|summarize` print, as JSON. Added to the
/api/v1 app by vidrag/server/api.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rag.errors import AnswerError

HowManyVideos = Annotated[int | None, Query(ge=1, le=100, description="How many results.")]


class SpeakerName(BaseModel):
    name: str = Field(max_length=200, description="The speaker's name; empty: back to the label")


def add_video_routes(api: FastAPI, get_services: Callable, find: Callable, failure: type[Exception]) -> None:
    """`find(services, id)` is the API's video lookup (404 for an unknown id); `failure(status,
    message)` its one-line error."""

    @api.get("/search/videos")
    def search_whole_videos(q: str, k: HowManyVideos = None) -> dict:
        """Whole videos ranked for a query, each with its best moment."""
        from rag.videos.search import search_videos

        if not q.strip():
            raise failure(422, "give a query q")
        return {"videos": [r.to_json() for r in search_videos(get_services().library, q, k=k or 10)]}

    @api.get("/videos/{video_id}/similar")
    def similar(video_id: str, at: Annotated[float | None, Query(description="Seconds into the video: "
                                                                 "moments like that frame, instead of videos")] = None,
                k: HowManyVideos = None) -> dict:
        """Videos like this one; with `at`, moments like its frame at that time."""
        services = get_services()
        video = find(services, video_id)
        if at is not None:
            from rag.retrieval.image_search import similar as similar_moments

            return {"moments": [m.to_json() for m in similar_moments(services.library.searcher, video.id, at, k=k)]}
        from rag.videos.search import similar_videos

        return {"videos": [r.to_json() for r in similar_videos(services.library, video.id, k=k or 10)]}

    def backfill(kind: str, video_id: str, force: bool) -> JSONResponse:
        services = get_services()
        video = find(services, video_id)
        if not video.has_video:
            raise failure(422, f"{video.name}: audio only, nothing to {kind}")
        job = services.jobs.submit_backfill(kind, video.id, video.name, force=force)
        return JSONResponse({"job_id": job.id, "jobs": [job.to_json()]}, status_code=202)

    @api.post("/videos/{video_id}/describe", status_code=202)
    def describe(video_id: str, force: bool = False) -> JSONResponse:
        """Describe and tag the frames that lack it (`force`: all of them again), as `vidrag
        describe` does: a durable job, like an add. 202: the job."""
        return backfill("describe", video_id, force)

    @api.post("/videos/{video_id}/read", status_code=202)
    def read(video_id: str, force: bool = False) -> JSONResponse:
        """Read the text on screen of a video indexed without it (`force`: again), as `vidrag
        read` does: a durable job. 202: the job."""
        return backfill("read", video_id, force)

    @api.post("/videos/{video_id}/summary")
    def summary(video_id: str, force: bool = False) -> dict:
        """The video's summary and chapters: the stored ones, or written by the VLM now (and
        stored). `force` writes them again. 502 when the VLM fails."""
        from rag.videos.summarize import summarize_video

        services = get_services()
        video = find(services, video_id)
        try:
            written = summarize_video(services.library.store, services.library.settings, video.id, force=force)
        except AnswerError as e:
            raise failure(502, str(e)) from e
        return written.to_json()

    @api.post("/videos/{video_id}/speakers/{label}")
    def rename_speaker(video_id: str, label: str, body: SpeakerName) -> dict:
        """Give a speaker of the video a name (`{"name": ""}` takes it back): transcripts, prompts
        and `speaker` searches use it from then on. 422 for a label the video lacks, or a bad name."""
        from rag.speakers import SpeakerError, rename

        services = get_services()
        video = find(services, video_id)
        try:
            return rename(services.library.store, video, label, body.name).to_json()
        except SpeakerError as e:
            raise failure(422, str(e)) from e
