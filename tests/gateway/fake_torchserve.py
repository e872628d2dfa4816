"""A fake TorchServe on the TorchServeClient transport seam, for orchestration tests that need no model.

It reads each request as a handler would (wire.envelope), records what arrived and when, and answers
like the real handlers: whisper one segment naming the piece, the enhancer the audio halved.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from wire.audio import DecodeLimits
from wire.envelope import read_request
from wire.pcm import to_wav
from wire.transcript import Segment, Transcription


@dataclass
class Call:
    model: str
    started: float
    ended: float
    params: dict[str, Any]
    audio: Any


@dataclass
class FakeTorchServe:
    delay_sec: float = 0.05
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        model = request.url.path.rsplit("/", 1)[-1]
        item = _multipart(request)
        decoded = read_request(item, DecodeLimits(max_seconds=600), None)
        started = time.monotonic()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_sec)
        finally:
            self.in_flight -= 1
        self.calls.append(Call(model, started, time.monotonic(), decoded.params, decoded.audio))
        if model == "enhancer":
            return httpx.Response(200, content=to_wav(decoded.audio * 0.5, decoded.sample_rate))
        n = sum(1 for c in self.calls if c.model == model)
        seconds = len(decoded.audio) / decoded.sample_rate
        segment = Segment(0, 0.0, seconds, f" piece{n}.", -0.1, 0.01)
        language = decoded.params.get("language") or "en"
        result = Transcription(segment.text.strip(), language, 0.9, seconds, "fake", "transcribe", [segment])
        return httpx.Response(200, json=result.to_dict())


def _multipart(request: httpx.Request) -> dict[str, bytes]:
    """The parts of a multipart request by name, as TorchServe hands them to a handler."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.read())
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.iter_parts()
    }
