"""uvicorn's HTTP protocol with a deadline for request headers.

uvicorn arms its keep-alive timer only after a response, so a client that opens a
connection and sends half a header (or nothing) holds it for ever; a few thousand such
sockets hold the server. Here every connection and every request must finish its
headers within HEADER_TIMEOUT_SEC, or the connection is closed. (Stalled bodies are the
body guard's business: gateway/app/api/limits.py.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HeaderDeadlineProtocol"]


class HeaderDeadlineProtocol(HttpToolsProtocol):
    header_timeout_sec = 10.0  # set from Settings before uvicorn starts

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout_sec, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # between requests the keep-alive timer rules

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
