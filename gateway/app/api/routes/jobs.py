"""/jobs: long recordings transcribed in the background, with progress, results that outlive restarts, webhooks."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Response

from gateway.app.api.deps import AudioSourceDep, DecoderDep, ServicesDep, SettingsDep, TenantDep
from gateway.app.api.job_schemas import JobList, JobView, segments_of, transcribe_response_of, transcription_of
from gateway.app.api.routes.audio import ERRORS
from gateway.app.api.routes.openai import formatted
from gateway.app.api.schemas import ErrorResponse
from gateway.app.api.transcribe_params import TranscribeParamsDep
from gateway.app.services.job_store import JobStore, new_job_id
from gateway.app.services.metrics import AUDIO_SECONDS
from gateway.core.errors import JobConflict, TooManyJobs
from gateway.core.jobs import JobStatus
from gateway.core.webhooks import MAX_URL_CHARS

router = APIRouter(prefix="/jobs", tags=["Jobs"])

_NAME_CHARS = 255  # JobRow.filename (services/job_rows.py)

JOB_ERRORS = {404: {"model": ErrorResponse, "description": "No such job for this key."}}
CONFLICT = {409: {"model": ErrorResponse, "description": "The job is not in a state that allows this."}}
BUSY = {429: {"model": ErrorResponse, "description": "JOB_MAX_QUEUED jobs already queued or running (Retry-After)."}}


def _jobs(services: ServicesDep) -> JobStore:
    return services.jobs


JobsDep = Annotated[JobStore, Depends(_jobs)]


@router.post(
    "/transcribe",
    status_code=202,
    response_model=JobView,
    responses={**ERRORS, **BUSY},  # type: ignore[dict-item]
)
async def submit(
    response: Response,
    audio: AudioSourceDep,
    decoder: DecoderDep,
    params: TranscribeParamsDep,
    tenant: TenantDep,
    settings: SettingsDep,
    services: ServicesDep,
    callback_url: Annotated[
        str | None,
        Query(max_length=MAX_URL_CHARS, description="POSTed the job's status when it ends (signed; see README)."),
    ] = None,
    callback_url_form: Annotated[str | None, Form(alias="callback_url", max_length=MAX_URL_CHARS)] = None,
) -> JobView:
    """Queue a transcription (same audio and parameters as /audio/transcribe); answers at once with the job.

    Follow it at ``Location`` (``GET /jobs/{id}``: progress and the segments done so far), fetch
    ``/jobs/{id}/result`` when it has succeeded, or let ``callback_url`` be told."""
    url = callback_url or callback_url_form
    if url:  # decided before any connection and before any work
        await services.webhooks.check(url)
    jobs, job_audio, runner = services.jobs, services.job_audio, services.job_runner
    if await asyncio.to_thread(jobs.active_count, tenant) >= settings.JOB_MAX_QUEUED:
        raise TooManyJobs(f"this key already has JOB_MAX_QUEUED ({settings.JOB_MAX_QUEUED}) jobs queued or running")
    decoded = await decoder.decode(audio.source)
    AUDIO_SECONDS.labels("/jobs/transcribe").inc(decoded.seconds)
    job_id = new_job_id()
    path = await asyncio.to_thread(job_audio.write, job_id, decoded.samples)
    request = {**params.to_json(), "warnings": list(decoded.warnings)}
    try:
        job = await asyncio.to_thread(
            jobs.create,
            job_id,
            tenant,
            request,
            audio.name[:_NAME_CHARS],  # the client's own name for its upload: any length, cut to the column
            path,
            decoded.seconds,
            url,
            settings.JOB_MAX_QUEUED,
        )
    except BaseException:
        await asyncio.to_thread(job_audio.delete, path)  # nothing half-written: no row, no audio
        raise
    runner.wake()
    response.headers["Location"] = f"/jobs/{job.id}"
    return JobView.of(job, segments=[])


@router.get("", response_model=JobList, responses=JOB_ERRORS)  # type: ignore[arg-type]
async def list_jobs(
    jobs: JobsDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page.")] = 20,
    after: Annotated[str | None, Query(max_length=64, description="next_after of the previous page.")] = None,
) -> JobList:
    """This key's jobs, newest first, a page at a time."""
    page = await asyncio.to_thread(jobs.page, tenant, limit + 1, after)
    more = len(page) > limit
    page = page[:limit]
    return JobList(jobs=[JobView.of(j) for j in page], next_after=page[-1].id if more else None)


@router.get("/{job_id}", response_model=JobView, responses=JOB_ERRORS)  # type: ignore[arg-type]
async def get_job(
    job_id: str,
    jobs: JobsDep,
    tenant: TenantDep,
    segments_from: Annotated[
        int, Query(ge=0, description="Only segments from this index (poll with the count you already have).")
    ] = 0,
) -> JobView:
    """The job's status, progress, and the segments finished so far."""
    job = await asyncio.to_thread(jobs.get, tenant, job_id)
    pieces = [] if job.result is not None else await asyncio.to_thread(jobs.pieces, job.id, segments_from)
    # an hour's result is thousands of segments: rebuilt in a worker thread, not on the event loop
    segments = await asyncio.to_thread(segments_of, job, pieces, segments_from)
    return JobView.of(job, segments)


ResultFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]


@router.get(
    "/{job_id}/result",
    responses={**JOB_ERRORS, **CONFLICT, 200: {"content": {"text/plain": {}, "text/vtt": {}}}},  # type: ignore[dict-item]
)
async def get_result(
    job_id: str,
    jobs: JobsDep,
    tenant: TenantDep,
    format: Annotated[
        ResultFormat, Query(description="json: as /audio/transcribe answers; text, srt, vtt; verbose_json: OpenAI's.")
    ] = "json",
) -> Response:
    """The transcript of a job that has succeeded (409 with the status before that)."""
    job = await asyncio.to_thread(jobs.get, tenant, job_id)
    if job.status != JobStatus.SUCCEEDED:
        detail = f"the job is {job.status.value}" + (f": {job.error}" if job.error else "")
        raise JobConflict(detail, job.status.value)
    if format == "json":
        body = await asyncio.to_thread(lambda: transcribe_response_of(job).model_dump_json())
        return Response(body, media_type="application/json")
    return await asyncio.to_thread(formatted, transcription_of(job), format, {"segment"})


@router.delete("/{job_id}", response_model=JobView, responses={**JOB_ERRORS, **CONFLICT})  # type: ignore[dict-item]
async def cancel_job(job_id: str, jobs: JobsDep, tenant: TenantDep) -> JobView:
    """Cancel a queued or running job: pieces not yet sent to the model never are (409 once it has ended)."""
    job = await asyncio.to_thread(jobs.cancel, tenant, job_id)
    return JobView.of(job)
