"""Errors that cross the wire: a machine-readable kind and a sentence for a person.

A handler answers a bad item with ``{"detail": ..., "kind": ...}`` and the status
of its kind; the gateway maps the kind back to its own error without reading the
prose. Anything without a kind (TorchServe's own answers) is mapped by status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = ["STATUS_BY_KIND", "ErrorKind", "WireError", "error_body", "parse_error_body"]

_MAX_DETAIL_CHARS = 300  # details echo caller input at times: never send a megabyte back


class ErrorKind(StrEnum):
    INVALID_AUDIO = "invalid_audio"  # undecodable, damaged, empty, refused container, bad rate/channels
    INVALID_REQUEST = "invalid_request"  # a parameter out of its bounds or of the wrong type
    TOO_LONG = "too_long"  # audio over a duration budget
    TOO_LARGE = "too_large"  # a body over a byte budget
    INTERNAL = "internal"  # the model failed on a valid request


STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID_AUDIO: 400,
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.TOO_LONG: 413,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.INTERNAL: 500,
}


def clip_text(text: str, limit: int = _MAX_DETAIL_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WireError(ValueError):
    """A request that cannot be served, with its kind; ``detail`` is safe to show the caller."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        self.kind = kind
        self.detail = clip_text(detail)
        super().__init__(self.detail)

    @property
    def status(self) -> int:
        return STATUS_BY_KIND[self.kind]


def error_body(error: WireError) -> dict[str, str]:
    return {"detail": error.detail, "kind": error.kind.value}


def parse_error_body(payload: Any) -> WireError | None:
    """The WireError a handler answered with, or None when the answer carries no known kind."""
    if not isinstance(payload, dict):
        return None
    try:
        kind = ErrorKind(str(payload.get("kind")))
    except ValueError:
        return None
    return WireError(kind, str(payload.get("detail") or kind.value))
