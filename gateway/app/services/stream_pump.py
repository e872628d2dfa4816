"""One /ws/asr connection at work: a reader taking frames and a decoder sending partials.

Two tasks per connection: the reader takes frames as they come; the decoder wakes
every ASR_EMIT_SEC (or on flush), decodes whatever has arrived, and sends a partial.
Decodes never queue up, so a slow model yields fewer partials, not a growing lag.

Liveness is counted in audio, not frames: a stream that sends less than
STREAM_MIN_AUDIO_RATIO seconds of audio per second over STREAM_IDLE_TIMEOUT_SEC is
closed, so a socket trickling 2-byte frames cannot hold a slot for hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from gateway.app.services.stream_session import StreamSession
from gateway.core.config import Settings
from gateway.core.local_agreement import Snapshot

__all__ = ["CLOSE", "StreamClosed", "StreamPump"]


class CLOSE:
    """WebSocket close codes (RFC 6455 and the IANA registry)."""

    NORMAL, GOING_AWAY, UNSUPPORTED, POLICY, TOO_BIG, SERVER_ERROR, TRY_LATER = 1000, 1001, 1003, 1008, 1009, 1011, 1013


# A control frame is a tiny JSON object; refusing deep or long ones before parsing keeps
# json.loads from recursing (200 KB of '[' is a RecursionError).
_MAX_CONTROL_CHARS = 1024


class StreamClosed(Exception):
    """The stream is over (client gone, or we closed it)."""


class StreamPump:
    def __init__(self, ws: WebSocket, session: StreamSession, settings: Settings) -> None:
        self.ws = ws
        self.session = session
        self.settings = settings
        self._send_lock = asyncio.Lock()
        self._wake = asyncio.Event()  # new audio or a flush
        self._flush = False
        self._stopping = False
        self._new_audio = False  # audio arrived since the decoder last took the buffer
        self._last_sent = ""
        self._decoded = asyncio.Event()  # set after each decode: a backlogged reader may go on
        self._window_start = time.monotonic()  # liveness: audio received since then
        self._window_audio = 0.0

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.send_json(message)

    async def error(self, detail: str) -> None:
        await self.send({"type": "error", "detail": detail})

    async def close(self, code: int, detail: str | None = None) -> None:
        if detail:
            await self.error(detail)
        async with self._send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.close(code)

    # Reader ---------------------------------------------------------------------
    async def read(self) -> None:
        """Take frames until stop; returns normally on stop, raises StreamClosed otherwise."""
        s = self.settings
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout=s.STREAM_IDLE_TIMEOUT_SEC)
            except TimeoutError:
                await self.close(CLOSE.POLICY, f"no data for {s.STREAM_IDLE_TIMEOUT_SEC:g} s: closing idle stream")
                raise StreamClosed from None
            if message["type"] == "websocket.disconnect":
                raise StreamClosed
            data, text = message.get("bytes"), message.get("text")
            size = len(data or b"") + len(text or "")
            if size > s.STREAM_MAX_FRAME_BYTES:
                await self.close(CLOSE.TOO_BIG, f"frame of {size} bytes exceeds {s.STREAM_MAX_FRAME_BYTES}")
                raise StreamClosed
            if data is not None:
                await self._audio(data)
            elif text is not None and await self._control(text):
                return
            await self._check_liveness()

    async def _check_liveness(self) -> None:
        s = self.settings
        elapsed = time.monotonic() - self._window_start
        if elapsed < s.STREAM_IDLE_TIMEOUT_SEC:
            return
        if self._window_audio < s.STREAM_MIN_AUDIO_RATIO * elapsed:
            await self.close(
                CLOSE.POLICY,
                f"only {self._window_audio:.1f} s of audio in {elapsed:.0f} s: closing a stream that sends too little",
            )
            raise StreamClosed
        self._window_start, self._window_audio = time.monotonic(), 0.0

    async def _audio(self, data: bytes) -> None:
        if len(data) % 2:
            await self.error("binary frames must be PCM16: an even number of bytes; frame dropped")
            return
        before = self.session.received_sec
        self.session.feed(data)
        self._window_audio += self.session.received_sec - before
        if self.session.received_sec > self.settings.STREAM_MAX_SEC:
            await self.close(CLOSE.POLICY, f"stream longer than {self.settings.STREAM_MAX_SEC:g} s")
            raise StreamClosed
        self._new_audio = True
        self._wake.set()
        # Backpressure: a client sending faster than the model decodes waits here (and TCP
        # throttles it) instead of the buffer growing without bound or audio being dropped.
        while self.session.backlogged:
            self._decoded.clear()
            await self._decoded.wait()

    async def _control(self, text: str) -> bool:
        """Handle a JSON control frame; True on stop."""
        event = _event(text)
        if event is None:
            await self.error('text frames must be JSON like {"event": "stop"}')
            return False
        if event == "stop":
            return True
        if event == "flush":
            if self._new_audio:  # nothing new since the last decode: the last partial still holds
                self._flush = True
                self._wake.set()
        elif event != "start":
            await self.error(f"unknown event {event[:40]!r}; use start, flush or stop")
        return False

    # Decoder --------------------------------------------------------------------
    async def decode_loop(self) -> None:
        emit = self.settings.ASR_EMIT_SEC
        next_at = time.monotonic() + emit
        while not self._stopping:
            await self._wake.wait()
            if not self._flush:
                delay = next_at - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wait_flush(), timeout=delay)
            if self._stopping:
                return
            self._wake.clear()
            forced, self._flush = self._flush, False
            self._new_audio = False
            next_at = time.monotonic() + emit
            heard = self.session.received_sec  # the audio this decode covers
            snapshot = await self.session.partial()
            self._decoded.set()
            if forced or snapshot.text != self._last_sent:
                await self._send_partial(snapshot, heard)
            if self._new_audio or self._flush:
                self._wake.set()

    async def _wait_flush(self) -> None:
        while not self._flush and not self._stopping:
            self._wake.clear()
            await self._wake.wait()

    async def _send_partial(self, snapshot: Snapshot, heard_sec: float) -> None:
        self._last_sent = snapshot.text
        await self.send(
            {
                "type": "partial",
                "text": snapshot.text,
                "committed": snapshot.committed,
                "tentative": snapshot.tentative,
                "audio_sec": round(heard_sec, 2),  # stream audio this partial has heard
            }
        )

    async def run(self) -> None:
        reader = asyncio.create_task(self.read())
        decoder = asyncio.create_task(self.decode_loop())
        try:
            done, _ = await asyncio.wait({reader, decoder}, return_when=asyncio.FIRST_COMPLETED)
            if decoder in done:  # the model failed mid-stream: its error ends the stream
                decoder.result()
            reader.result()  # stop (or the reader's own error)
            # stop: let an in-flight decode finish, then decode everything left as final
            self._stopping = True
            self._wake.set()
            await decoder
        finally:
            for task in (reader, decoder):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        snapshot = await self.session.final()
        final: dict[str, Any] = {
            "type": "final",
            "text": snapshot.text,
            "audio_sec": round(self.session.received_sec, 2),
        }
        if self.session.speakers is not None:
            final |= await self.session.speakers.final_fields(self.session.state)
        await self.send(final)
        await self.close(CLOSE.NORMAL)


def _event(text: str) -> str | None:
    """The ``event`` of a control frame, or None when it is not a small JSON object naming one."""
    if len(text) > _MAX_CONTROL_CHARS:
        return None
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None
    event = message.get("event") if isinstance(message, dict) else None
    return event if isinstance(event, str) else None
