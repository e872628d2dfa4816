"""The job worker of one replica: claim a job, transcribe it piece by piece under a lease, deliver its webhook.

Every replica runs JOB_WORKERS of these loops; the database decides who works what (see
``job_store``). Each finished piece is written before the next is awaited, so a job taken over
after a crash resumes after the last piece written, and ``GET /jobs/{id}`` shows progress and
segments as they come. While a loop works a job it renews the lease every third of
JOB_LEASE_SEC, and at least every second; when a renewal fails (the job was cancelled, or
the lease was lost while this replica stalled) the work stops at once and pieces not yet
sent are never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from gateway.app.services.diarization import Diarizer, with_speakers
from gateway.app.services.job_store import Job, JobStore
from gateway.app.services.transcribe_request import TranscribeRequest
from gateway.app.services.transcription import Transcriber
from gateway.app.services.webhooks import WebhookSender
from gateway.core.config import SAMPLE_RATE, Settings
from gateway.core.errors import AudioCoreError, ModelError, ModelTimeout, ModelUnavailable, ServerBusy
from gateway.core.jobs import CallbackState, JobStatus, backoff_sec, progress_fraction
from gateway.core.transcript import merge_pieces
from wire.audio import DecodedAudio
from wire.errors import ErrorKind, WireError
from wire.pcm import as_float32, to_pcm16
from wire.transcript import Transcription

__all__ = ["JobAudio", "JobRunner", "job_summary"]

log = logging.getLogger(__name__)
_PASSING = (ModelUnavailable, ModelTimeout, ModelError, ServerBusy)  # worth another try later
_EXPIRE_EVERY_SEC = 60.0
_RENEW_MAX_SEC = 1.0


class JobAudio:
    """Where jobs keep their audio: PCM16 at SAMPLE_RATE in a folder of the file store's volume,
    so every replica reads it. Files are written whole under a temp name and renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, job_id: str, samples: np.ndarray) -> str:
        name = f"{job_id}.pcm"
        self.root.mkdir(parents=True, exist_ok=True)
        temp = self.root / f".{name}.{secrets.token_hex(4)}"
        try:
            with temp.open("wb") as fh:
                step = SAMPLE_RATE * 60  # a minute at a time: never a second full-length copy
                for i in range(0, len(samples), step):
                    fh.write(to_pcm16(samples[i : i + step]))
            os.replace(temp, self.root / name)
        finally:
            temp.unlink(missing_ok=True)
        return name

    def read(self, name: str) -> np.ndarray:
        """The job's PCM16, memory-mapped: pieces become floats one at a time, so an hour is never
        230 MB of float32 in this process (the page cache holds the 115 MB file, shared and evictable)."""
        path = self.root / name
        if path.stat().st_size == 0:
            return np.zeros(0, dtype=np.int16)
        return np.memmap(path, dtype="<i2", mode="r")

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)


def job_summary(job: Job) -> dict[str, Any]:
    """What a webhook says about a job (the result itself is fetched from result_url)."""
    return {
        "job_id": job.id,
        "status": job.status.value,
        "error": job.error,
        "filename": job.filename,
        "progress": {
            "done_sec": round(job.done_sec, 3),
            "total_sec": round(job.total_sec, 3),
            "fraction": progress_fraction(job.done_sec, job.total_sec),
        },
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "result_url": f"/jobs/{job.id}/result" if job.status == JobStatus.SUCCEEDED else None,
    }


class _LeaseLost(Exception):
    """The job is no longer this worker's to write (cancelled, or taken over)."""


class _HandedBack(Exception):
    """The model server failed in passing: the job waits for its next try, on any replica."""


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        audio: JobAudio,
        transcriber: Transcriber,
        diarizer: Diarizer,
        webhooks: WebhookSender,
    ) -> None:
        self._s = settings
        self._store = store
        self._audio = audio
        self._transcriber = transcriber
        self._diarizer = diarizer
        self._webhooks = webhooks
        self.owner = f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._next_expiry = 0.0

    def wake(self) -> None:
        """A job was just queued here: look now instead of at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            job = None
            try:
                await self._expire_now_and_then()
                job = await asyncio.to_thread(
                    self._store.claim, self.owner, self._s.JOB_LEASE_SEC, self._s.JOB_MAX_ATTEMPTS
                )
            except (SQLAlchemyError, OSError) as exc:  # the database or the volume is away for a moment
                log.warning("jobs: cannot claim or expire: %s", type(exc).__name__)
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._s.JOB_POLL_SEC)
                continue
            try:
                await self._serve(job)
            except Exception:  # a defect must not end this replica's job work; the lease runs out, another tries
                log.exception("jobs: %s: unexpected error", job.id)

    async def _serve(self, job: Job) -> None:
        """Work and/or deliver one claimed job, renewing its lease meanwhile."""
        this = asyncio.current_task()
        assert this is not None
        lost = asyncio.Event()

        async def keep_lease() -> None:
            while True:
                # at least every second: a cancel is noticed (and in-flight pieces dropped) within one
                await asyncio.sleep(min(self._s.JOB_LEASE_SEC / 3, _RENEW_MAX_SEC))
                try:
                    held = await asyncio.to_thread(self._store.renew, job.id, self.owner, self._s.JOB_LEASE_SEC)
                except SQLAlchemyError:
                    continue  # try again; if the database stays away the lease runs out and another replica resumes
                if not held:
                    lost.set()
                    this.cancel()
                    return

        keeper = asyncio.create_task(keep_lease())
        try:
            if job.status == JobStatus.RUNNING:
                job = await self._work(job)
            if job.callback_state == CallbackState.PENDING and job.callback_url:
                await self._deliver(job)
        except asyncio.CancelledError:
            if not lost.is_set():  # shutting down: hand the job back for the next replica, at once
                with contextlib.suppress(SQLAlchemyError):
                    await asyncio.shield(asyncio.to_thread(self._store.release, job.id, self.owner))
                raise
            this.uncancel()
            log.info("jobs: %s stopped here (cancelled, or its lease moved on)", job.id)
        except _LeaseLost:
            log.info("jobs: %s stopped here (cancelled, or its lease moved on)", job.id)
        except _HandedBack:
            pass
        except SQLAlchemyError as exc:
            log.warning("jobs: %s: database error %s; the lease will run out and the job resume", job.id, exc)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _work(self, job: Job) -> Job:
        request = TranscribeRequest.from_json(job.request)
        started = time.monotonic()
        try:
            samples = await asyncio.to_thread(self._audio.read, job.audio_path)
            audio = DecodedAudio(samples, SAMPLE_RATE, tuple(job.request.get("warnings", ())))
            stored = await asyncio.to_thread(self._store.pieces, job.id)
            done = [(p.offset, Transcription.from_dict(p.transcription)) for p in stored]
            if done:
                log.info("jobs: %s resumes after %d piece(s) (%.0f s)", job.id, len(done), job.done_sec)
            pieces = self._transcriber.pieces(audio, request.options, request.enhance, start=len(done))
            async for offset, piece in pieces:
                done.append((offset, piece))
                written = await asyncio.to_thread(
                    self._store.add_piece,
                    job.id,
                    self.owner,
                    offset,
                    piece.to_dict(),
                    offset + piece.duration,
                    piece.language,
                )
                if not written:
                    raise _LeaseLost
            result = merge_pieces(done, duration=audio.seconds, warnings=audio.warnings)
            speakers = None
            if request.diarize is not None:
                whole = await asyncio.to_thread(as_float32, samples)  # diarization needs it all
                who = await self._diarizer.diarize(job.tenant, whole, request.diarize)
                result = with_speakers(result, who)
                speakers = [asdict(s) for s in who.speakers]
        except _PASSING as exc:
            delay = backoff_sec(job.attempts, self._s.JOB_RETRY_SEC)
            log.warning("jobs: %s: %s; next try in %.1f s", job.id, exc.detail, delay)
            await asyncio.to_thread(self._store.retry_later, job.id, self.owner, delay, exc.detail)
            raise _HandedBack from None
        except (AudioCoreError, WireError) as exc:
            return await self._finish(job, error=_detail(exc))
        except (_LeaseLost, _HandedBack, asyncio.CancelledError, SQLAlchemyError):
            raise
        except Exception:  # a defect must fail this job, not loop it through every replica
            log.exception("jobs: %s failed unexpectedly", job.id)
            return await self._finish(job, error="internal error")
        log.info("jobs: %s done in %.1f s (%.0f s of audio)", job.id, time.monotonic() - started, audio.seconds)
        return await self._finish(job, result={"transcription": result.to_dict(), "speakers": speakers})

    async def _finish(self, job: Job, **outcome: Any) -> Job:
        if not await asyncio.to_thread(self._store.finish, job.id, self.owner, **outcome):
            raise _LeaseLost
        return await asyncio.to_thread(self._store.get, job.tenant, job.id)

    async def _deliver(self, job: Job) -> None:
        assert job.callback_url and job.delivery_id
        payload = {"type": f"job.{job.status.value}", "delivery_id": job.delivery_id, "job": job_summary(job)}

        async def on_retry(attempts: int, error: str) -> None:
            await asyncio.to_thread(self._store.delivered, job.id, self.owner, CallbackState.PENDING, attempts, error)

        outcome = await self._webhooks.deliver(job.callback_url, payload, job.id, job.delivery_id, on_retry)
        await asyncio.to_thread(
            self._store.delivered, job.id, self.owner, outcome.state, outcome.attempts, outcome.error
        )

    async def _expire_now_and_then(self) -> None:
        now = time.time()
        if now < self._next_expiry:
            return
        self._next_expiry = now + _EXPIRE_EVERY_SEC
        paths = await asyncio.to_thread(self._store.expire, now - self._s.JOB_TTL_SEC)
        for path in paths:
            await asyncio.to_thread(self._audio.delete, path)
        if paths:
            log.info("jobs: %d expired job(s) deleted", len(paths))


def _detail(exc: AudioCoreError | WireError) -> str:
    if isinstance(exc, WireError) and exc.kind is ErrorKind.INTERNAL:
        return "the model failed on this audio"
    return exc.detail
