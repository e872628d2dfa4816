"""Optional API keys and the per-key request rate (stream limits: services/stream_admission.py).

Off by default (local use, as the seed says). With ``API_KEYS`` set, every route but
/health and /ready needs ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``;
WebSocket clients may also pass ``?api_key=``. Keys are compared in constant time.
Rate limits are per gateway process (token buckets in memory): with N replicas
behind a load balancer a key gets up to N times the rate.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass

from starlette.datastructures import Headers, QueryParams
from starlette.types import Scope

__all__ = ["OPEN_PATHS", "KeyGuard", "RateLimited"]

OPEN_PATHS = frozenset({"/health", "/ready"})


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limit exceeded")
        self.retry_after = max(1, math.ceil(retry_after))


class KeyGuard:
    def __init__(self, keys: list[str], per_minute: int, max_tracked_keys: int = 10_000) -> None:
        self._keys = [k.encode() for k in keys if k]
        self.enabled = bool(self._keys)
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}
        self._max_tracked = max_tracked_keys

    # Identity -------------------------------------------------------------------
    def key_from(self, scope: Scope) -> str | None:
        """The presented key if it is valid ('' when auth is off), else None."""
        if not self.enabled:
            return ""
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
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        return presented if matched else None

    # Request rate ---------------------------------------------------------------
    def take(self, key: str) -> None:
        """Spend one request from ``key``'s bucket; raise RateLimited when empty."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_tracked:
                self._buckets.clear()  # bounded: forget idle keys rather than grow
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            raise RateLimited((1.0 - bucket.tokens) / rate)
        bucket.tokens -= 1.0
