"""API keys (naming tenants), request rates, and failed-authentication limits.

Off by default (local use, as the seed says). With ``API_KEYS`` set, every route but
/health and /ready needs ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``;
WebSocket clients may also pass ``?api_key=``. Keys are compared in constant time.
Rates are token buckets in memory, per gateway process (with N replicas behind a load
balancer a client gets up to N times the rate): per key when keys are on, per client
address when they are off, and failed authentications per client address always, so
keys cannot be guessed at line rate.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass

from starlette.datastructures import Headers, QueryParams
from starlette.types import Scope

from gateway.core.tenancy import KeyEntry

__all__ = ["OPEN_PATHS", "KeyGuard", "RateLimited", "TokenBuckets"]

OPEN_PATHS = frozenset({"/health", "/ready"})


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limit exceeded")
        self.retry_after = max(1, math.ceil(retry_after))


class TokenBuckets:
    """``per_minute`` events per name, refilled continuously; 0 means no limit."""

    def __init__(self, per_minute: int, max_tracked: int = 10_000) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}
        self._max_tracked = max_tracked

    def take(self, name: str) -> None:
        """Spend one event of ``name``; RateLimited when its bucket is empty."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self._max_tracked:
                self._buckets.clear()  # bounded: forget idle names rather than grow
            bucket = self._buckets[name] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            raise RateLimited((1.0 - bucket.tokens) / rate)
        bucket.tokens -= 1.0

    def exhausted(self, name: str) -> float | None:
        """Seconds until ``name`` may try again, or None when it has tokens left (spends nothing)."""
        bucket = self._buckets.get(name)
        if self.per_minute <= 0 or bucket is None:
            return None
        tokens = min(float(self.per_minute), bucket.tokens + (time.monotonic() - bucket.updated) * self.per_minute / 60)
        return None if tokens >= 1.0 else (1.0 - tokens) * 60 / self.per_minute


class KeyGuard:
    def __init__(self, entries: list[KeyEntry]) -> None:
        self._entries = [(e.key.encode(), e) for e in entries]
        self.enabled = bool(self._entries)

    def identify(self, scope: Scope) -> KeyEntry | None:
        """The entry of the presented key, or None when none (or a wrong one) was presented."""
        headers = Headers(scope=scope)
        presented = headers.get("x-api-key") or None  # an empty header is no key: look further
        auth = headers.get("authorization", "")
        if presented is None and auth.lower().startswith("bearer "):
            presented = auth[7:].strip()
        if presented is None and scope["type"] == "websocket":
            presented = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("api_key")
        if not presented:
            return None
        candidate = presented.encode()
        # compare against every key so the time taken says nothing about which one matched
        found: KeyEntry | None = None
        for key, entry in self._entries:
            if hmac.compare_digest(candidate, key):
                found = entry
        return found
