"""ASGI middleware: request ids and metrics, and the API-key gate (with per-key rate limits)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.app.api.security import OPEN_PATHS, KeyGuard, RateLimited
from gateway.app.services.metrics import REQUEST_SECONDS, REQUESTS
from gateway.core.context import request_id

__all__ = ["ApiKeyGate", "RequestContext"]

log = logging.getLogger("gateway.access")
# ASCII only, matched whole: the id goes on to TorchServe in a header, where httpx refuses anything else
_SAFE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class RequestContext:
    """Gives every request an id (``X-Request-ID`` in and out), times it and counts it per route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                route = getattr(scope.get("route"), "path", "unmatched")
                elapsed = time.perf_counter() - started
                REQUESTS.labels(scope["method"], route, str(status)).inc()
                REQUEST_SECONDS.labels(scope["method"], route).observe(elapsed)
                log.info("%s %s %s %.3fs", scope["method"], scope["path"], status, elapsed)
            request_id.reset(token)


class ApiKeyGate:
    """401 without a valid key (WebSocket: an error message, then close 1008); 429 past the rate."""

    def __init__(self, app: ASGIApp, guard: KeyGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        key = self.guard.key_from(scope)
        if key is None:
            await _refuse(scope, receive, send, 401, "missing or invalid API key", {"www-authenticate": "Bearer"})
            return
        scope.setdefault("state", {})["api_key"] = key
        if scope["type"] == "http":
            try:
                self.guard.take(key)
            except RateLimited as exc:
                await _refuse(scope, receive, send, 429, "rate limit exceeded", {"retry-after": str(exc.retry_after)})
                return
        await self.app(scope, receive, send)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, headers: dict[str, str]
) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"type": "error", "detail": detail})})
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"detail": detail}).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
