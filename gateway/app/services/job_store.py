"""The job store: jobs, their finished pieces, results and leases, in the deployment's SQL database.

Why not a job engine such as procrastinate: it runs on PostgreSQL only, and the embedded
default (``make up``) runs on SQLite with no server. A job here is one row, and the only
coordination jobs need is "exactly one replica works a job at a time, and a dead replica's
job goes to another": a lease (owner + expiry) taken in one transaction
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; the database-wide write lock of
``BEGIN IMMEDIATE`` on SQLite) and renewed while the replica works. Every write by a worker
names its owner and changes nothing once the lease has moved on, so a replica that was
presumed dead and wakes up again cannot overwrite the replica that took over.

Timestamps are Unix seconds from the replicas' clocks (kept in step by NTP, as leases anywhere
assume). All methods block; call them via ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, func, or_, select, update
from sqlalchemy.orm import sessionmaker

from gateway.app.services.database import create_tables
from gateway.app.services.job_rows import Base, JobRow, PieceRow
from gateway.core.errors import JobConflict, JobNotFound, TooManyJobs
from gateway.core.jobs import ACTIVE, TERMINAL, CallbackState, JobStatus

__all__ = ["Job", "JobStore", "Piece", "new_job_id"]


@dataclass(frozen=True)
class Piece:
    index: int
    offset: float
    first_segment: int
    transcription: dict[str, Any]


@dataclass(frozen=True)
class Job:
    """A snapshot of one job row, decoded."""

    id: str
    tenant: str
    status: JobStatus
    request: dict[str, Any]
    filename: str
    audio_path: str
    total_sec: float
    done_sec: float
    result: dict[str, Any] | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    callback_url: str | None
    callback_state: CallbackState | None
    callback_attempts: int
    callback_error: str | None
    delivery_id: str | None

    @classmethod
    def of(cls, row: JobRow) -> Job:
        return cls(
            id=row.id,
            tenant=row.tenant,
            status=JobStatus(row.status),
            request=json.loads(row.request),
            filename=row.filename,
            audio_path=row.audio_path,
            total_sec=row.total_sec,
            done_sec=row.done_sec,
            result=json.loads(row.result) if row.result else None,
            error=row.error,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            attempts=row.attempts,
            callback_url=row.callback_url,
            callback_state=CallbackState(row.callback_state) if row.callback_state else None,
            callback_attempts=row.callback_attempts,
            callback_error=row.callback_error,
            delivery_id=row.delivery_id,
        )


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)  # unguessable; ownership is still checked on every read


class JobStore:
    def __init__(self, engine: Engine, clock: Any = time.time) -> None:
        self.engine = engine
        create_tables(Base.metadata, engine)
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock

    # The API side -------------------------------------------------------------
    def create(
        self,
        job_id: str,
        tenant: str,
        request: dict[str, Any],
        filename: str,
        audio_path: str,
        total_sec: float,
        callback_url: str | None,
        max_active: int,
    ) -> Job:
        """A queued job; TooManyJobs when the tenant already has ``max_active`` queued or running."""
        with self._session.begin() as session:
            active = _active(session, tenant)
            if active >= max_active:
                raise TooManyJobs(f"{active} jobs are queued or running for this key (JOB_MAX_QUEUED {max_active})")
            row = JobRow(
                id=job_id,
                tenant=tenant,
                status=JobStatus.QUEUED,
                request=json.dumps(request),
                filename=filename,
                audio_path=audio_path,
                total_sec=total_sec,
                done_sec=0.0,
                created_at=self._clock(),
                attempts=0,
                callback_url=callback_url,
                callback_attempts=0,
            )
            session.add(row)
            session.flush()
            return Job.of(row)

    def active_count(self, tenant: str) -> int:
        with self._session() as session:
            return _active(session, tenant)

    def get(self, tenant: str, job_id: str) -> Job:
        with self._session() as session:
            row = session.get(JobRow, job_id)
            if row is None or row.tenant != tenant:
                raise JobNotFound()
            return Job.of(row)

    def pieces(self, job_id: str, from_segment: int = 0) -> list[Piece]:
        """The job's finished pieces in order, all of them (silent ones too) from 0; from a later
        ``from_segment``, only those holding segments at or after it."""
        query = select(PieceRow).where(PieceRow.job_id == job_id)
        if from_segment > 0:
            query = query.where(PieceRow.first_segment + PieceRow.segment_count > from_segment)
        with self._session() as session:
            rows = session.scalars(query.order_by(PieceRow.index)).all()
            return [Piece(r.index, r.offset, r.first_segment, json.loads(r.transcription)) for r in rows]

    def page(self, tenant: str, limit: int, after: str | None = None) -> list[Job]:
        """The tenant's jobs, newest first; ``after``: the last job id of the previous page."""
        with self._session() as session:
            query = select(JobRow).where(JobRow.tenant == tenant)
            if after is not None:
                mark = session.get(JobRow, after)
                if mark is None or mark.tenant != tenant:
                    raise JobNotFound("no such job to page after")
                query = query.where(
                    or_(
                        JobRow.created_at < mark.created_at,
                        and_(JobRow.created_at == mark.created_at, JobRow.id < mark.id),
                    )
                )
            rows = session.scalars(query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit)).all()
            return [Job.of(r) for r in rows]

    def cancel(self, tenant: str, job_id: str) -> Job:
        """Cancel a queued or running job (the replica working it stops at its next piece)."""
        with self._session.begin() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.tenant != tenant:
                raise JobNotFound()
            if row.status in TERMINAL:
                raise JobConflict(f"the job is already {row.status}", row.status)
            row.status = JobStatus.CANCELLED
            row.finished_at = self._clock()
            return Job.of(row)

    # The worker side ----------------------------------------------------------
    def claim(self, owner: str, lease_sec: float, max_attempts: int) -> Job | None:
        """Take the oldest job that needs a worker (queued, or running on a lease that ran out, or
        finished with a webhook still to deliver) under a lease for ``owner``; None when there is none."""
        while True:
            with self._session.begin() as session:
                now = self._clock()
                free = or_(JobRow.lease_until.is_(None), JobRow.lease_until < now)
                wanted = or_(
                    JobRow.status == JobStatus.QUEUED,
                    and_(JobRow.status == JobStatus.RUNNING, free),
                    and_(JobRow.callback_state == CallbackState.PENDING, free),
                )
                row = session.scalars(
                    select(JobRow).where(wanted).order_by(JobRow.created_at).limit(1).with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                if row.status in ACTIVE and row.attempts >= max_attempts:
                    # every worker that took it vanished: this job, not chance, is the likely cause
                    why = f": {row.error}" if row.error else " (the workers that took it vanished)"
                    self._end(row, JobStatus.FAILED, error=f"gave up after {row.attempts} tries{why}")
                    continue
                if row.status in ACTIVE:
                    row.status = JobStatus.RUNNING
                    row.attempts += 1
                    row.started_at = row.started_at or now
                row.lease_owner, row.lease_until = owner, now + lease_sec
                return Job.of(row)

    def renew(self, job_id: str, owner: str, lease_sec: float) -> bool:
        """Extend the lease; False when it is no longer this owner's or the job was cancelled."""
        with self._session.begin() as session:
            done = session.execute(
                update(JobRow)
                .where(*self._held(job_id, owner), JobRow.status != JobStatus.CANCELLED)
                .values(lease_until=self._clock() + lease_sec)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def add_piece(
        self, job_id: str, owner: str, offset: float, piece: dict[str, Any], done_sec: float, language: str | None
    ) -> bool:
        """Record one finished piece (in order) and the progress; False when the job is no longer ours to write."""
        with self._session.begin() as session:
            row = self._owned(session, job_id, owner)
            if row is None or row.status != JobStatus.RUNNING:
                return False
            count, segments = session.execute(
                select(func.count(), func.coalesce(func.sum(PieceRow.segment_count), 0)).where(
                    PieceRow.job_id == job_id
                )
            ).one()
            session.add(
                PieceRow(
                    job_id=job_id,
                    index=count,
                    offset=offset,
                    first_segment=segments,
                    segment_count=len(piece.get("segments", [])),
                    transcription=json.dumps(piece),
                )
            )
            row.done_sec = min(row.total_sec, done_sec)
            if language is not None:  # a detected language holds for the pieces after a restart too
                request = json.loads(row.request)
                if request.get("options", {}).get("language") is None:
                    request.setdefault("options", {})["language"] = language
                    row.request = json.dumps(request)
            return True

    def finish(
        self, job_id: str, owner: str, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> bool:
        """The job succeeded (``result``) or failed (``error``); False when it was not ours to finish."""
        with self._session.begin() as session:
            row = self._owned(session, job_id, owner)
            if row is None or row.status != JobStatus.RUNNING:
                return False
            if result is not None:
                row.result = json.dumps(result)
                row.done_sec = row.total_sec
                self._end(row, JobStatus.SUCCEEDED)
            else:
                self._end(row, JobStatus.FAILED, error=error or "failed")
            return True

    def retry_later(self, job_id: str, owner: str, delay_sec: float, error: str) -> bool:
        """Give a job back after a passing failure (the model server down): any replica takes it after the delay."""
        with self._session.begin() as session:
            row = self._owned(session, job_id, owner)
            if row is None or row.status != JobStatus.RUNNING:
                return False
            row.error = error  # shown while it waits; cleared by success
            row.lease_owner, row.lease_until = None, self._clock() + delay_sec
            return True

    def release(self, job_id: str, owner: str) -> None:
        """This replica is shutting down: the job goes back at once, and the try does not count."""
        with self._session.begin() as session:
            row = self._owned(session, job_id, owner)
            if row is not None:
                if row.status == JobStatus.RUNNING:
                    row.attempts = max(0, row.attempts - 1)
                row.lease_owner, row.lease_until = None, None

    def delivered(self, job_id: str, owner: str, state: CallbackState, attempts: int, error: str | None) -> None:
        """The webhook's outcome (or, with PENDING, a try that failed: ``attempts`` so far)."""
        with self._session.begin() as session:
            row = self._owned(session, job_id, owner)
            if row is not None:
                row.callback_state, row.callback_attempts, row.callback_error = state, attempts, error
                if state != CallbackState.PENDING:
                    row.lease_owner, row.lease_until = None, None

    def expire(self, older_than: float) -> list[str]:
        """Delete jobs that ended before ``older_than`` (webhook settled); their audio paths, to delete too."""
        with self._session.begin() as session:
            ended = and_(
                _in(JobRow.status, TERMINAL),
                JobRow.finished_at < older_than,
                or_(JobRow.callback_state.is_(None), JobRow.callback_state != CallbackState.PENDING),
            )
            ids, paths = [], []
            for job_id, path in session.execute(select(JobRow.id, JobRow.audio_path).where(ended)):
                ids.append(job_id)
                paths.append(path)
            if ids:
                session.execute(delete(PieceRow).where(PieceRow.job_id.in_(ids)))
                session.execute(delete(JobRow).where(JobRow.id.in_(ids)))
            return paths

    # Helpers -----------------------------------------------------------------
    def _end(self, row: JobRow, status: JobStatus, error: str | None = None) -> None:
        row.status = status
        row.error = error
        row.finished_at = self._clock()
        if row.callback_url and status != JobStatus.CANCELLED:
            row.callback_state = CallbackState.PENDING
            row.delivery_id = "dlv_" + secrets.token_hex(8)  # one id per completion, on every retry
        else:  # nothing to deliver: the lease is over
            row.lease_owner, row.lease_until = None, None

    def _held(self, job_id: str, owner: str) -> tuple[Any, ...]:
        return JobRow.id == job_id, JobRow.lease_owner == owner, JobRow.lease_until >= self._clock()

    def _owned(self, session: Any, job_id: str, owner: str) -> JobRow | None:
        return session.scalars(select(JobRow).where(*self._held(job_id, owner)).with_for_update()).first()  # type: ignore[no-any-return]


def _active(session: Any, tenant: str) -> int:
    """The tenant's jobs that are queued or running."""
    query = select(func.count()).select_from(JobRow).where(JobRow.tenant == tenant, _in(JobRow.status, ACTIVE))
    return int(session.scalar(query) or 0)


def _in(column: Any, states: frozenset[JobStatus]) -> Any:
    return column.in_([s.value for s in states])
