"""Response models of /jobs: a job as clients see it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.app.api.schemas import DiarizedSpeaker, TranscribeResponse, TranscriptionRaw
from gateway.app.services.job_store import Job, Piece
from gateway.core.jobs import JobStatus, progress_fraction
from wire.transcript import Segment, Transcription

__all__ = ["JobList", "JobView", "transcribe_response_of", "transcription_of"]


class JobProgress(BaseModel):
    done_sec: float = Field(description="Audio seconds transcribed so far.")
    total_sec: float = Field(description="Audio seconds in the job.")
    fraction: float = Field(description="done_sec / total_sec, 0..1.")


class JobCallback(BaseModel):
    url: str
    state: str | None = Field(description="pending, delivered or failed; null until the job ends.")
    attempts: int = Field(description="Delivery tries made.")
    last_error: str | None = None
    delivery_id: str | None = Field(description="The same on every retry of one delivery: dedup on it.")


class JobView(BaseModel):
    job_id: str
    status: JobStatus = Field(description="queued, running, succeeded, failed or cancelled.")
    filename: str = Field(description="The upload's name, or the stored file's.")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: JobProgress
    attempts: int = Field(description="Times a worker took the job up (more than 1: it resumed after a restart).")
    error: str | None = Field(None, description="Why it failed (or, while it waits for a retry, what went wrong).")
    segments: list[Segment] | None = Field(
        None, description="Segments finished so far, in order (from index segments_from); absent in lists."
    )
    callback: JobCallback | None = None
    result_url: str | None = Field(None, description="Where the result is, once succeeded.")

    @classmethod
    def of(cls, job: Job, segments: list[Segment] | None = None) -> JobView:
        """``segments``: those to show (see ``segments_of``); None leaves them out (lists)."""
        callback = None
        if job.callback_url:
            callback = JobCallback(
                url=job.callback_url,
                state=job.callback_state,
                attempts=job.callback_attempts,
                last_error=job.callback_error,
                delivery_id=job.delivery_id,
            )
        return cls(
            job_id=job.id,
            status=job.status,
            filename=job.filename,
            created_at=_time(job.created_at),
            started_at=_time(job.started_at),
            finished_at=_time(job.finished_at),
            progress=JobProgress(
                done_sec=round(job.done_sec, 3),
                total_sec=round(job.total_sec, 3),
                fraction=progress_fraction(job.done_sec, job.total_sec),
            ),
            attempts=job.attempts,
            error=job.error,
            segments=segments,
            callback=callback,
            result_url=f"/jobs/{job.id}/result" if job.status == JobStatus.SUCCEEDED else None,
        )


def segments_of(job: Job, pieces: list[Piece], segments_from: int) -> list[Segment]:
    """The job's segments from index ``segments_from`` on: from the result once there is one, else
    from the finished pieces (only those holding such segments are read), shifted to file time."""
    if job.result is not None:
        return transcription_of(job).segments[segments_from:]
    out = []
    for piece in pieces:
        for k, segment in enumerate(Transcription.from_dict(piece.transcription).segments):
            if piece.first_segment + k >= segments_from:
                out.append(segment.shifted(piece.offset, piece.first_segment + k))
    return out


class JobList(BaseModel):
    jobs: list[JobView] = Field(description="Newest first.")
    next_after: str | None = Field(description="Pass as ?after= for the next page; null on the last page.")


def transcription_of(job: Job) -> Transcription:
    assert job.result is not None
    return Transcription.from_dict(job.result["transcription"])


def transcribe_response_of(job: Job) -> TranscribeResponse:
    """A finished job's result, exactly as /audio/transcribe would have answered."""
    assert job.result is not None
    result = transcription_of(job)
    raw = TranscriptionRaw.of(result)
    speakers: list[dict[str, Any]] | None = job.result.get("speakers")
    if speakers is not None:
        raw.speakers = [DiarizedSpeaker(**s) for s in speakers]
    return TranscribeResponse(text=result.text, raw=raw)


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)
