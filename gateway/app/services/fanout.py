"""Run a request's model calls together; the first failure cancels the rest and is raised as itself."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

__all__ = ["run_all", "run_pair"]

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


async def run_all(calls: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Results in order. Unlike ``gather``, nothing keeps running after a failure or a cancellation,
    and unlike a bare TaskGroup the caller sees the error itself, not an ExceptionGroup."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def run_pair(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Two different calls side by side, with run_all's failure and cancellation rules."""
    try:
        async with asyncio.TaskGroup() as group:
            a = group.create_task(first)
            b = group.create_task(second)
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return a.result(), b.result()
