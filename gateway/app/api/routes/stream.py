"""WS /ws/asr: live recognition of a PCM16 stream (the seed's protocol, plus a committed/tentative split).

Client → server: binary frames of PCM16 mono LE at ``sample_rate``; text frames
``{"event": "start" | "flush" | "stop"}``. Server → client: ``ready`` first, then
``partial`` every ASR_EMIT_SEC while audio arrives (``text`` = committed + tentative,
``committed`` never changes later), ``final`` on stop, ``error`` on bad input.

Two tasks per connection: the reader takes frames as they come; the decoder wakes
every ASR_EMIT_SEC (or on flush), decodes whatever has arrived, and sends a partial.
Decodes never queue up, so a slow model yields fewer partials, not a growing lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from gateway.app.api.security import KeyGuard
from gateway.app.services.metrics import ACTIVE_STREAMS, AUDIO_SECONDS
from gateway.app.services.streaming import StreamSession
from gateway.core.config import Settings
from gateway.core.errors import AudioCoreError, ModelTimeout, ModelUnavailable
from gateway.core.languages import normalize_language
from gateway.core.streaming import Snapshot

router = APIRouter(tags=["ASR"])
log = logging.getLogger(__name__)

# Close codes (RFC 6455 and IANA registry)
NORMAL, GOING_AWAY, UNSUPPORTED, POLICY, TOO_BIG, SERVER_ERROR, TRY_LATER = 1000, 1001, 1003, 1008, 1009, 1011, 1013
MIN_RATE, MAX_RATE = 8000, 48000


class StreamSlots:
    """Counts open streams; a stream over the limit is refused, not queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def try_acquire(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active -= 1


class _Closed(Exception):
    """The stream is over (client gone, or we closed it)."""


class StreamConnection:
    def __init__(self, ws: WebSocket, session: StreamSession, settings: Settings) -> None:
        self.ws = ws
        self.session = session
        self.settings = settings
        self._send_lock = asyncio.Lock()
        self._wake = asyncio.Event()  # new audio or a flush
        self._flush = False
        self._stopping = False
        self._new_audio = False
        self._last_sent = ""
        self._decoded = asyncio.Event()  # set after each decode: a backlogged reader may go on

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
        """Take frames until stop; returns normally on stop, raises _Closed otherwise."""
        s = self.settings
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout=s.STREAM_IDLE_TIMEOUT_SEC)
            except TimeoutError:
                await self.close(POLICY, f"no data for {s.STREAM_IDLE_TIMEOUT_SEC:g} s: closing idle stream")
                raise _Closed from None
            if message["type"] == "websocket.disconnect":
                raise _Closed
            data, text = message.get("bytes"), message.get("text")
            size = len(data or b"") + len(text or "")
            if size > s.STREAM_MAX_FRAME_BYTES:
                await self.close(TOO_BIG, f"frame of {size} bytes exceeds {s.STREAM_MAX_FRAME_BYTES}")
                raise _Closed
            if data is not None:
                await self._audio(data)
            elif text is not None and await self._control(text):
                return

    async def _audio(self, data: bytes) -> None:
        if len(data) % 2:
            await self.error("binary frames must be PCM16: an even number of bytes; frame dropped")
            return
        self.session.feed(data)
        if self.session.received_sec > self.settings.STREAM_MAX_SEC:
            await self.close(POLICY, f"stream longer than {self.settings.STREAM_MAX_SEC:g} s")
            raise _Closed
        self._new_audio = True
        self._wake.set()
        # Backpressure: a client sending faster than the model decodes waits here (and TCP
        # throttles it) instead of the buffer growing without bound or audio being dropped.
        while self.session.backlogged:
            self._decoded.clear()
            await self._decoded.wait()

    async def _control(self, text: str) -> bool:
        """Handle a JSON control frame; True on stop."""
        try:
            event = json.loads(text).get("event")
        except (ValueError, AttributeError):
            await self.error('text frames must be JSON like {"event": "stop"}')
            return False
        if event == "stop":
            return True
        if event == "flush":
            self._flush = True
            self._wake.set()
        elif event != "start":
            await self.error(f"unknown event {event!r}; use start, flush or stop")
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
        await self.send({"type": "final", "text": snapshot.text, "audio_sec": round(self.session.received_sec, 2)})
        await self.close(NORMAL)


@router.websocket("/ws/asr")
async def ws_asr(ws: WebSocket, language: str | None = None, sample_rate: str = "16000") -> None:
    """Live speech recognition over WebSocket (PCM16 mono LE in; ready/partial/final/error out)."""
    settings: Settings = ws.app.state.settings
    slots: StreamSlots = ws.app.state.stream_slots
    guard: KeyGuard = ws.app.state.guard
    key = ws.scope.get("state", {}).get("api_key", "")
    await ws.accept()
    conn: StreamConnection | None = None
    try:
        rate = int(sample_rate) if sample_rate.isdigit() else 0
        if not MIN_RATE <= rate <= MAX_RATE:
            await _refuse(ws, UNSUPPORTED, f"invalid sample rate: use {MIN_RATE}..{MAX_RATE} Hz")
            return
        try:
            lang = normalize_language(language, settings.DEFAULT_LANGUAGE)
        except AudioCoreError as exc:
            await _refuse(ws, POLICY, exc.detail)
            return
        if not guard.open_stream(key):
            await _refuse(ws, TRY_LATER, f"this API key already has {guard.max_streams_per_key} open streams")
            return
        if not slots.try_acquire():
            guard.close_stream(key)
            await _refuse(ws, TRY_LATER, f"server busy: {slots.limit} streams already open")
            return
        ACTIVE_STREAMS.inc()
        try:
            session = StreamSession(settings, ws.app.state.torchserve, lang, rate)
            conn = StreamConnection(ws, session, settings)
            await conn.send({"type": "ready", "sample_rate": rate, "language": lang or "auto"})
            await conn.run()
        finally:
            ACTIVE_STREAMS.dec()
            slots.release()
            guard.close_stream(key)
            if conn is not None:
                AUDIO_SECONDS.labels("/ws/asr").inc(conn.session.received_sec)
    except (_Closed, WebSocketDisconnect):
        pass
    except (ModelUnavailable, ModelTimeout) as exc:
        if conn is not None:
            await conn.close(SERVER_ERROR, exc.detail)
    except AudioCoreError as exc:
        if conn is not None:
            await conn.close(POLICY, exc.detail)
    except Exception:
        log.exception("stream failed")
        if conn is not None:
            await conn.close(SERVER_ERROR, "internal error")


async def _refuse(ws: WebSocket, code: int, detail: str) -> None:
    await ws.send_json({"type": "error", "detail": detail})
    await ws.close(code)
