"""Admission by audio seconds: past MAX_AUDIO_SEC_IN_FLIGHT a request waits, then gets ServerBusy (503)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.app.api.errors import status_for
from gateway.app.services.audio_budget import AudioBudget
from gateway.core.errors import ServerBusy


async def test_waits_for_room_then_refuses_with_retry_after() -> None:
    budget = AudioBudget(max_seconds=100, wait_sec=0.2)
    async with budget.hold(80):
        with pytest.raises(ServerBusy) as busy:
            async with budget.hold(30):
                pass
        assert status_for(busy.value) == 503 and busy.value.retry_after >= 1
        async with budget.hold(20):  # what fits goes at once
            assert budget.in_flight == 100

    async def later() -> None:
        async with budget.hold(90):
            await asyncio.sleep(0.05)

    async with budget.hold(50):
        waiting = asyncio.create_task(later())  # waits for room instead of failing
        await asyncio.sleep(0.05)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 1)
    assert budget.in_flight == 0


async def test_one_request_longer_than_the_bound_still_runs_alone() -> None:
    budget = AudioBudget(max_seconds=60, wait_sec=0.1)
    async with budget.hold(3600):
        assert budget.in_flight == 60
