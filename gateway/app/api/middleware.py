"""ASGI middleware: request ids and metrics, and the access gate (keys, tenants, rates)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.app.api.security import OPEN_PATHS, KeyGuard, RateLimited, TokenBuckets
from gateway.app.services.metrics import REQUEST_SECONDS, REQUESTS
from gateway.core.context import request_id
from gateway.core.tenancy import DEFAULT_TENANT

__all__ = ["AccessGate", "HostOriginGuard", "RequestContext", "client_address"]

log = logging.getLogger("gateway.access")
errors = logging.getLogger("gateway.errors")
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

        status_sent: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = status_sent = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # noqa: BLE001 - the last line of defence: log once, answer 500
            # Logged here once, with the request id still set; answered here, so neither Starlette's
            # error middleware nor the server logs it a second time.
            errors.exception("unhandled error on %s %s", scope.get("method", "WS"), scope["path"])
            if scope["type"] == "http" and status_sent is None:
                await _send_json(send_with_id, 500, {"detail": "internal server error"}, {})
        finally:
            if scope["type"] == "http":
                route = getattr(scope.get("route"), "path", "unmatched")
                elapsed = time.perf_counter() - started
                REQUESTS.labels(scope["method"], route, str(status)).inc()
                REQUEST_SECONDS.labels(scope["method"], route).observe(elapsed)
                log.info("%s %s %s %.3fs", scope["method"], scope["path"], status, elapsed)
            request_id.reset(token)


class AccessGate:
    """Who is calling: the key's tenant (401 without a valid key when keys are on), then the rates.

    Sets ``scope["state"]``: ``tenant``, and ``api_key`` (None when keys are off). Failed
    authentications count per client address; past AUTH_FAILURES_PER_MIN that address gets 429
    before its key is even compared.
    """

    def __init__(self, app: ASGIApp, guard: KeyGuard, rate: TokenBuckets, auth_failures: TokenBuckets) -> None:
        self.app = app
        self.guard = guard
        self.rate = rate
        self.auth_failures = auth_failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["tenant"], state["api_key"] = DEFAULT_TENANT, None
        if scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        if self.guard.enabled:
            wait = self.auth_failures.exhausted(address)
            if wait is not None:
                await _refuse(
                    scope,
                    receive,
                    send,
                    429,
                    "too many failed authentications",
                    {"retry-after": str(max(1, round(wait)))},
                )
                return
            entry = self.guard.identify(scope)
            if entry is None:
                with contextlib.suppress(RateLimited):
                    self.auth_failures.take(address)
                await _refuse(scope, receive, send, 401, "missing or invalid API key", {"www-authenticate": "Bearer"})
                return
            state["tenant"], state["api_key"] = entry.tenant, entry.key
        if scope["type"] == "http":
            try:
                self.rate.take(state["api_key"] or f"address:{address}")
            except RateLimited as exc:
                await _refuse(scope, receive, send, 429, "rate limit exceeded", {"retry-after": str(exc.retry_after)})
                return
        await self.app(scope, receive, send)


class HostOriginGuard:
    """Only the expected Host names and browser Origins reach the app.

    A local install without keys is otherwise open to any web page: DNS rebinding points a
    page's own name at 127.0.0.1 (the Host header still names the page's domain), and a page
    may open a WebSocket to any address (the Origin header names the page). Requests without
    an Origin (curl, SDKs) are not browsers and pass; probes on /health and /ready pass.
    """

    def __init__(self, app: ASGIApp, hosts: list[str], origins: list[str]) -> None:
        self.app = app
        self.any_host = "*" in hosts
        self.hosts = frozenset(hosts)
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        if host is not None and not self.any_host and _hostname(host) not in self.hosts:
            await _refuse(scope, receive, send, 400, "unknown Host: add it to ALLOWED_HOSTS", {})
            return
        origin = headers.get("origin")
        if origin is not None and not self.any_origin and not self._same_origin(origin, host):
            await _refuse(
                scope, receive, send, 403, "cross-origin request refused: add the origin to ALLOWED_ORIGINS", {}
            )
            return
        await self.app(scope, receive, send)

    def _same_origin(self, origin: str, host: str | None) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if origin in self.origins:
            return True
        scheme, sep, netloc = origin.partition("://")
        return bool(sep) and scheme in ("http", "https") and host is not None and netloc == host.lower()


def _hostname(host: str) -> str:
    """The name in a Host header, without its port (IPv6 literals lose their brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, headers: dict[str, str]
) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"type": "error", "detail": detail})})
        await send({"type": "websocket.close", "code": 1008})
        return
    await _send_json(send, status, {"detail": detail}, headers)


async def _send_json(send: Send, status: int, payload: dict[str, str], headers: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
