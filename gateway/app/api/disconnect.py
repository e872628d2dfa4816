"""Work belongs to its caller: when an HTTP client goes away, what it asked for stops.

Starlette lets an endpoint run to the end after its client disconnected; for a long
transcription that is minutes of model time nobody will read, queued ahead of the next
caller. ``until_disconnected`` runs the work beside a watcher of the connection and
cancels it when the client leaves, so pieces not yet sent to the model never are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

from gateway.core.errors import ClientGone

__all__ = ["until_disconnected"]

T = TypeVar("T")


async def until_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of ``work``; ClientGone (after cancelling it) when the client disconnects first."""
    task = asyncio.create_task(work)
    watcher = asyncio.create_task(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise ClientGone()
    finally:
        for pending in (task, watcher):
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _disconnected(request: Request) -> None:
    # The body was read before the endpoint ran, so the next message is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
