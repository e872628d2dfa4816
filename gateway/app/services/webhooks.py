"""Webhook delivery: check a callback URL before accepting it, then POST signed results with retries.

The URL's host is resolved and every address judged (``core/webhooks.refused_address``) when
the job is submitted, so a bad target is a 400 before any connection, and again before each
try, so a name that later points inside the network is refused then too. (A resolver that
answers differently between that check and httpx's own lookup a moment later is the one gap
left; closing it needs a connector pinned to the checked address.) Redirects are not followed:
a 3xx is a failed try, never a second, unchecked target.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.core.config import Settings
from gateway.core.errors import InvalidRequest
from gateway.core.jobs import CallbackState, backoff_sec
from gateway.core.webhooks import (
    DELIVERY_HEADER,
    JOB_HEADER,
    SIGNATURE_HEADER,
    CallbackTarget,
    parse_callback_url,
    refused_address,
    sign,
)

__all__ = ["Delivery", "WebhookSender"]

log = logging.getLogger(__name__)
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Delivery:
    """How one delivery went: the final state, the tries made and the last error."""

    state: CallbackState
    attempts: int
    error: str | None


class WebhookSender:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._secret = settings.WEBHOOK_SECRET
        self._allow_private = settings.WEBHOOK_ALLOW_PRIVATE
        self._tries = settings.WEBHOOK_MAX_TRIES
        self._backoff = settings.WEBHOOK_BACKOFF_SEC
        # one client for every delivery: no proxies from the environment, no redirects
        self._client = httpx.AsyncClient(
            timeout=settings.WEBHOOK_TIMEOUT_SEC, follow_redirects=False, trust_env=False, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self, url: str) -> str:
        """The URL, if a callback may go there; InvalidRequest (400) saying why not."""
        if not self._secret:
            raise InvalidRequest("callbacks are off on this server: it has no WEBHOOK_SECRET to sign them with")
        await self._judge(parse_callback_url(url))
        return url

    async def _judge(self, target: CallbackTarget) -> None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError):  # no such name, an invalid one, or a NUL in it
            raise InvalidRequest(f"callback_url's host {target.host!r} does not resolve") from None
        if self._allow_private:
            return
        for info in infos:
            reason = refused_address(str(info[4][0]))
            if reason is not None:
                raise InvalidRequest(
                    f"callback_url's host resolves to {reason}; refused (WEBHOOK_ALLOW_PRIVATE allows it)"
                )

    async def deliver(
        self,
        url: str,
        payload: dict[str, Any],
        job_id: str,
        delivery_id: str,
        on_retry: Callable[[int, str], Awaitable[None]] | None = None,
    ) -> Delivery:
        """POST ``payload`` until a 2xx or WEBHOOK_MAX_TRIES tries, waiting longer after each failure.

        ``on_retry(attempts, error)`` is awaited after each failed try, so the job shows the state."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        error: str | None = None
        for attempt in range(1, self._tries + 1):
            error = await self._try(url, body, job_id, delivery_id)
            if error is None:
                log.info("webhook %s for %s delivered (try %d)", delivery_id, job_id, attempt)
                return Delivery(CallbackState.DELIVERED, attempt, None)
            log.warning("webhook %s for %s, try %d failed: %s", delivery_id, job_id, attempt, error)
            if attempt < self._tries:
                if on_retry is not None:
                    await on_retry(attempt, error)
                await asyncio.sleep(backoff_sec(attempt, self._backoff))
        return Delivery(CallbackState.FAILED, self._tries, error)

    async def _try(self, url: str, body: bytes, job_id: str, delivery_id: str) -> str | None:
        try:
            await self._judge(parse_callback_url(url))
        except InvalidRequest as exc:
            return exc.detail
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, int(time.time()), body),
            DELIVERY_HEADER: delivery_id,
            JOB_HEADER: job_id,
            "User-Agent": "audio-core-webhooks",
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS] or type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"the receiver answered {response.status_code}"
