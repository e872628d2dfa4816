"""The job store on a real SQLite file, seen by two replicas (two stores, one database) on one clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app.services.database import open_engine
from gateway.app.services.job_store import JobStore, new_job_id
from gateway.core.errors import JobConflict, JobNotFound, TooManyJobs
from gateway.core.jobs import CallbackState, JobStatus

LEASE = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def replicas(tmp_path: Path, clock: Clock) -> Iterator[tuple[JobStore, JobStore]]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    engines = [open_engine(url), open_engine(url)]
    yield JobStore(engines[0], clock), JobStore(engines[1], clock)
    for engine in engines:
        engine.dispose()


def submit(
    store: JobStore, tenant: str = "t1", callback: str | None = None, max_active: int = 10, **request: Any
) -> str:
    job_id = new_job_id()
    store.create(job_id, tenant, {"options": request}, "talk.wav", f"{job_id}.pcm", 60.0, callback, max_active)
    return job_id


def test_a_job_is_worked_by_one_replica_at_a_time(replicas: tuple[JobStore, JobStore]) -> None:
    a, b = replicas
    job_id = submit(a)
    taken = a.claim("A", LEASE, 3)
    assert taken is not None and taken.id == job_id and taken.status == JobStatus.RUNNING and taken.attempts == 1
    assert b.claim("B", LEASE, 3) is None
    assert a.renew(job_id, "A", LEASE) and not b.renew(job_id, "B", LEASE)


def test_a_dead_replicas_job_resumes_elsewhere_and_the_dead_one_cannot_write(
    replicas: tuple[JobStore, JobStore], clock: Clock
) -> None:
    a, b = replicas
    job_id = submit(a)
    a.claim("A", LEASE, 3)
    piece = {"text": "one", "segments": []}
    assert a.add_piece(job_id, "A", 0.0, piece, 25.0, "en")
    clock.now += LEASE + 1  # A stopped renewing
    taken = b.claim("B", LEASE, 3)
    assert taken is not None and taken.id == job_id and taken.attempts == 2
    assert taken.done_sec == 25.0  # resumes after the piece A wrote
    assert [(p.index, p.offset, p.transcription) for p in b.pieces(job_id)] == [(0, 0.0, piece)]
    # A wakes up again: nothing it writes lands, and it cannot finish the job
    assert not a.add_piece(job_id, "A", 25.0, piece, 50.0, None)
    assert not a.finish(job_id, "A", result={"transcription": {}})
    assert not a.renew(job_id, "A", LEASE)
    assert b.finish(job_id, "B", result={"transcription": {"text": "x"}})
    done = b.get("t1", job_id)
    assert done.status == JobStatus.SUCCEEDED and done.done_sec == 60.0 and len(b.pieces(job_id)) == 1


def test_a_job_abandoned_too_often_fails_and_its_webhook_is_still_due(
    replicas: tuple[JobStore, JobStore], clock: Clock
) -> None:
    a, _ = replicas
    job_id = submit(a, callback="https://example.org/hook")
    for attempt in range(2):
        assert a.claim(f"W{attempt}", LEASE, 2) is not None
        clock.now += LEASE + 1
    # the third taker finds the job failed, with its delivery to make
    taken = a.claim("W2", LEASE, 2)
    assert (
        taken is not None
        and taken.status == JobStatus.FAILED
        and "gave up after 2 tries (the workers" in (taken.error or "")
    )
    assert taken.callback_state == CallbackState.PENDING and taken.delivery_id
    a.delivered(job_id, "W2", CallbackState.DELIVERED, 1, None)
    assert a.claim("W3", LEASE, 2) is None


def test_a_delivery_keeps_its_id_when_another_replica_retries_it(
    replicas: tuple[JobStore, JobStore], clock: Clock
) -> None:
    a, b = replicas
    job_id = submit(a, callback="https://example.org/hook")
    a.claim("A", LEASE, 3)
    a.finish(job_id, "A", result={"transcription": {}})
    first = a.get("t1", job_id)
    assert first.callback_state == CallbackState.PENDING
    assert b.claim("B", LEASE, 3) is None  # A holds it while delivering
    clock.now += LEASE + 1  # A died mid-delivery
    again = b.claim("B", LEASE, 3)
    assert again is not None and again.status == JobStatus.SUCCEEDED and again.delivery_id == first.delivery_id


def test_cancel_stops_the_worker_and_cannot_be_repeated(replicas: tuple[JobStore, JobStore]) -> None:
    a, b = replicas
    job_id = submit(a)
    a.claim("A", LEASE, 3)
    assert b.cancel("t1", job_id).status == JobStatus.CANCELLED
    assert not a.renew(job_id, "A", LEASE)  # the worker learns at its next renewal
    assert not a.add_piece(job_id, "A", 0.0, {}, 10.0, None)
    with pytest.raises(JobConflict) as refused:
        b.cancel("t1", job_id)
    assert refused.value.extra == {"status": "cancelled"}


def test_shutdown_hands_a_job_back_at_once_without_counting_the_try(replicas: tuple[JobStore, JobStore]) -> None:
    a, b = replicas
    job_id = submit(a)
    a.claim("A", LEASE, 3)
    a.release(job_id, "A")
    taken = b.claim("B", LEASE, 3)
    assert taken is not None and taken.id == job_id and taken.attempts == 1


def test_a_passing_failure_waits_before_any_replica_retries(replicas: tuple[JobStore, JobStore], clock: Clock) -> None:
    a, b = replicas
    job_id = submit(a)
    a.claim("A", LEASE, 3)
    assert a.retry_later(job_id, "A", 10.0, "model server unavailable")
    assert b.claim("B", LEASE, 3) is None
    assert b.get("t1", job_id).error == "model server unavailable"
    clock.now += 11
    assert (taken := b.claim("B", LEASE, 3)) is not None and taken.attempts == 2


def test_each_tenant_sees_only_its_jobs_newest_first_a_page_at_a_time(
    replicas: tuple[JobStore, JobStore], clock: Clock
) -> None:
    a, _ = replicas
    mine = []
    for _ in range(5):
        mine.append(submit(a, "t1"))
        clock.now += 1
    theirs = submit(a, "t2")
    with pytest.raises(JobNotFound):
        a.get("t1", theirs)
    with pytest.raises(JobNotFound):
        a.cancel("t1", theirs)
    first = a.page("t1", 3)
    rest = a.page("t1", 3, after=first[-1].id)
    assert [j.id for j in first + rest] == mine[::-1]
    with pytest.raises(JobNotFound):
        a.page("t1", 3, after=theirs)


def test_a_tenant_may_have_only_so_many_jobs_waiting(replicas: tuple[JobStore, JobStore]) -> None:
    a, _ = replicas
    first = submit(a, max_active=2)
    submit(a, max_active=2)
    with pytest.raises(TooManyJobs):
        submit(a, max_active=2)
    submit(a, "t2", max_active=2)  # another tenant is not held back
    a.cancel("t1", first)
    submit(a, max_active=2)  # an ended job makes room
    assert a.active_count("t1") == 2


def test_a_detected_language_is_kept_for_the_pieces_after_a_restart(replicas: tuple[JobStore, JobStore]) -> None:
    a, _ = replicas
    job_id = submit(a, language=None)
    a.claim("A", LEASE, 3)
    a.add_piece(job_id, "A", 0.0, {}, 28.0, "ru")
    a.add_piece(job_id, "A", 28.0, {}, 56.0, "en")  # the first piece's language holds
    assert a.get("t1", job_id).request["options"]["language"] == "ru"


def test_finished_jobs_expire_after_the_ttl_unless_a_delivery_is_due(
    replicas: tuple[JobStore, JobStore], clock: Clock
) -> None:
    a, _ = replicas
    plain, hooked, waiting = submit(a), submit(a, callback="https://example.org/h"), submit(a)
    for job_id in (plain, hooked):
        a.claim("A", LEASE, 3)
        a.finish(job_id, "A", error="boom")
    clock.now += 100
    assert sorted(a.expire(older_than=clock.now - 50)) == [f"{plain}.pcm"]
    with pytest.raises(JobNotFound):
        a.get("t1", plain)
    assert a.get("t1", hooked).callback_state == CallbackState.PENDING
    assert a.get("t1", waiting).status == JobStatus.QUEUED


def test_pieces_are_numbered_by_segment_so_a_poll_reads_only_the_new_ones(replicas: tuple[JobStore, JobStore]) -> None:
    a, _ = replicas
    job_id = submit(a)
    a.claim("A", LEASE, 3)
    for n, count in enumerate((3, 0, 2)):  # a silent piece has no segments
        a.add_piece(job_id, "A", n * 28.0, {"segments": [{}] * count}, (n + 1) * 28.0, None)
    assert [(p.index, p.first_segment) for p in a.pieces(job_id)] == [(0, 0), (1, 3), (2, 3)]
    assert [p.index for p in a.pieces(job_id, from_segment=3)] == [2]
    assert a.pieces(job_id, from_segment=5) == []
