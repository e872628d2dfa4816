"""Speaker embeddings of many spans of one clip in one request (diarization, identification).

The gateway sends ``params["spans"] = [[start_sec, end_sec], ...]``; the speaker-embedding
handler answers ``{"spans": [{"embedding": [...] | null, "voiced_sec": s}, ...]}`` in the same
order, ``null`` where a span holds too little voice to embed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from wire.errors import ErrorKind, WireError

__all__ = ["MAX_SPANS", "MAX_SPAN_SEC", "parse_spans"]

MAX_SPANS = 4000  # an hour of 1.5 s windows at a 0.75 s hop is 4800: the gateway sends pieces
MAX_SPAN_SEC = 30.0


def parse_spans(params: Mapping[str, Any], duration: float) -> list[tuple[float, float]] | None:
    """The spans a request asks for (None: embed the whole clip); WireError(invalid_request) when malformed."""
    raw = params.get("spans")
    if raw is None:
        return None
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SPANS:
        raise WireError(ErrorKind.INVALID_REQUEST, f"spans must be a list of 1 to {MAX_SPANS} [start, end] pairs")
    spans: list[tuple[float, float]] = []
    for pair in raw:
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(x, (int, float)) for x in pair):
            raise WireError(ErrorKind.INVALID_REQUEST, "each span is [start_sec, end_sec]")
        start, end = float(pair[0]), float(pair[1])
        if not (math.isfinite(start) and math.isfinite(end)) or not 0 <= start < end <= duration + 0.01:
            raise WireError(ErrorKind.INVALID_REQUEST, "a span lies outside the audio or ends before it starts")
        if end - start > MAX_SPAN_SEC:
            raise WireError(ErrorKind.INVALID_REQUEST, f"a span is longer than {MAX_SPAN_SEC:g} s")
        spans.append((start, end))
    return spans
