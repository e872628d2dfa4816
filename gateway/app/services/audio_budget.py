"""Admission by audio seconds: how much audio this process decodes and sends to models at once.

Request counts say little about cost here (one request may be 2 s or an hour), so the
bound is in audio seconds. A request waits up to BUSY_WAIT_SEC for room, then gets
503 with Retry-After, so a burst of long files cannot queue unbounded work behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

from gateway.core.errors import ServerBusy

__all__ = ["AudioBudget"]


class AudioBudget:
    def __init__(self, max_seconds: float, wait_sec: float) -> None:
        self.max_seconds = max_seconds
        self.wait_sec = wait_sec
        self.in_flight = 0.0
        self._room = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, seconds: float) -> AsyncIterator[None]:
        """Reserve ``seconds`` of audio for the block; ServerBusy when no room came in time."""
        seconds = min(seconds, self.max_seconds)  # one request alone always fits
        async with self._room:
            try:
                await asyncio.wait_for(
                    self._room.wait_for(lambda: self.in_flight + seconds <= self.max_seconds), self.wait_sec
                )
            except TimeoutError:
                raise ServerBusy(
                    f"server busy: {self.in_flight:.0f} s of audio in progress",
                    retry_after=max(1, math.ceil(seconds / 60)),
                ) from None
            self.in_flight += seconds
        try:
            yield
        finally:
            async with self._room:
                self.in_flight -= seconds
                self._room.notify_all()
