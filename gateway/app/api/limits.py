"""Guard request bodies while they stream in: over the size limit 413, stalled 408, before anything is stored."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    """ASGI middleware: 413 as soon as Content-Length or the bytes received pass ``max_bytes``.

    The counting happens inside ``receive``, so the multipart parser stops at the
    first chunk over the limit; the HTTPException it raises is answered by FastAPI
    as a normal 413 with a ``detail``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout_sec: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_sec = read_timeout_sec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request body exceeds {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _reject(send, detail)
                return
        received = 0
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body only the disconnect comes, whenever it comes
                return await receive()
            try:
                # 10 of 1 000 000 announced bytes must not hold a connection (and a worker) for ever
                message = await asyncio.wait_for(receive(), self.read_timeout_sec)
            except TimeoutError:
                raise HTTPException(status_code=408, detail="request body stalled: upload timed out") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status_code=413, detail=detail)
                body_done = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


async def _reject(send: Send, detail: str) -> None:
    body = ('{"detail":"' + detail + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
