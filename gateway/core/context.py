"""Per-request context that crosses layers without being passed around: the request id."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["request_id"]

request_id: ContextVar[str] = ContextVar("request_id", default="-")
