"""Jobs: a transcription that outlives the request that asked for it. The states and the rules between them.

queued -> running -> succeeded | failed; queued or running -> cancelled (by the owner). A running
job belongs to one replica for as long as that replica renews its lease; a lease that runs out
(the replica died) puts the job up for any replica again, resuming after the pieces already done.
A job abandoned ``max_attempts`` times fails instead of taking every replica down in turn.
"""

from __future__ import annotations

import math
from enum import StrEnum

__all__ = ["ACTIVE", "TERMINAL", "CallbackState", "JobStatus", "backoff_sec", "progress_fraction"]


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class CallbackState(StrEnum):
    PENDING = "pending"  # to be delivered (or being delivered, under a lease)
    DELIVERED = "delivered"
    FAILED = "failed"  # every try failed; the result itself stays available


def progress_fraction(done_sec: float, total_sec: float) -> float:
    """Share of the audio transcribed, 0..1 (a job of no audio is done when it is done)."""
    if total_sec <= 0:
        return 0.0
    return round(min(1.0, max(0.0, done_sec / total_sec)), 4)


def backoff_sec(attempt: int, base_sec: float, cap_sec: float = 300.0) -> float:
    """Wait before try ``attempt`` + 1 (attempt counts from 1): base, 2 base, 4 base, ... at most ``cap_sec``."""
    if attempt < 1:
        return 0.0
    return min(cap_sec, base_sec * math.pow(2, attempt - 1))
