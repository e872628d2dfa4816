"""Run a request's model calls together; the first failure cancels the rest and is raised as itself."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

__all__ = ["run_all"]

T = TypeVar("T")


async def run_all(calls: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Results in order. Unlike ``gather``, nothing keeps running after a failure or a cancellation,
    and unlike a bare TaskGroup the caller sees the error itself, not an ExceptionGroup."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]
