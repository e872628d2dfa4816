"""Who may open a /ws/asr stream: per-process, per-key and per-client-address limits, in one place.

A stream holds a slot for its whole life (``async with admission.slot(key, address)``),
so a closed or vanished stream always gives its slot back. Over a limit the stream is
refused at once (StreamRefused), never queued.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

__all__ = ["StreamAdmission", "StreamRefused"]


class StreamRefused(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class StreamAdmission:
    def __init__(self, max_streams: int, per_key: int, per_address: int) -> None:
        self.max_streams = max_streams
        self.per_key = per_key  # 0: no per-key limit
        self.per_address = per_address  # 0: no per-address limit
        self.active = 0
        self._by_key: Counter[str] = Counter()
        self._by_address: Counter[str] = Counter()

    @contextlib.contextmanager
    def slot(self, key: str | None, address: str) -> Iterator[None]:
        """Hold a stream slot; ``key`` None when API keys are off (then only addresses count)."""
        if self.active >= self.max_streams:
            raise StreamRefused(f"server busy: {self.max_streams} streams already open")
        if key is not None and self.per_key and self._by_key[key] >= self.per_key:
            raise StreamRefused(f"this API key already has {self.per_key} open streams")
        if self.per_address and self._by_address[address] >= self.per_address:
            raise StreamRefused(f"this client address already has {self.per_address} open streams")
        self.active += 1
        if key is not None:
            self._by_key[key] += 1
        self._by_address[address] += 1
        try:
            yield
        finally:
            self.active -= 1
            if key is not None:
                _release(self._by_key, key)
            _release(self._by_address, address)


def _release(counts: Counter[str], name: str) -> None:
    counts[name] -= 1
    if counts[name] <= 0:
        del counts[name]  # bounded: only names with open streams are kept
