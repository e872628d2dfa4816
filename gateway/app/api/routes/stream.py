"""WS /ws/asr: live recognition of a PCM16 stream (the seed's protocol, plus a committed/tentative split).

Client → server: binary frames of PCM16 mono LE at ``sample_rate``; text frames
``{"event": "start" | "flush" | "stop"}``. Server → client: ``ready`` first, then
``partial`` every ASR_EMIT_SEC while audio arrives (``text`` = committed + tentative,
``committed`` never changes later), ``final`` on stop, ``error`` on bad input.
The work itself is in services/stream_pump.py; this route checks parameters and admission.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from gateway.app.api.deps import ServicesDep
from gateway.app.services.container import Services
from gateway.app.services.diarization import DiarizeOptions
from gateway.app.services.metrics import ACTIVE_STREAMS, AUDIO_SECONDS
from gateway.app.services.stream_admission import StreamRefused
from gateway.app.services.stream_pump import CLOSE, StreamClosed, StreamPump
from gateway.app.services.stream_session import StreamSession
from gateway.app.services.stream_speakers import StreamSpeakers
from gateway.core.errors import AudioCoreError, InvalidRequest, ModelTimeout, ModelUnavailable
from gateway.core.tenancy import DEFAULT_TENANT
from wire.errors import WireError
from wire.languages import parse_language
from wire.options import HOTWORDS_MAX_CHARS, parse_bool

router = APIRouter(tags=["ASR"])
log = logging.getLogger(__name__)

MIN_RATE, MAX_RATE = 8000, 48000
_RATE = re.compile(r"[0-9]{4,6}")  # ASCII digits only: '²' is a digit to str.isdigit, not to int()


@router.websocket("/ws/asr")
async def ws_asr(
    ws: WebSocket,
    services: ServicesDep,
    language: str | None = None,
    sample_rate: str = "16000",
    diarize: str = "false",
    known_speakers: str | None = None,
    hotwords: str | None = None,
) -> None:
    """Live speech recognition over WebSocket (PCM16 mono LE in; ready/partial/final/error out)."""
    settings = services.settings
    await ws.accept()
    rate = int(sample_rate) if _RATE.fullmatch(sample_rate) else 0
    if not MIN_RATE <= rate <= MAX_RATE:
        await _refuse(ws, CLOSE.UNSUPPORTED, f"invalid sample rate: use {MIN_RATE}..{MAX_RATE} Hz")
        return
    try:
        lang = parse_language(language, settings.DEFAULT_LANGUAGE)
        speakers = _speakers(services, ws, diarize, known_speakers)
        if hotwords is not None and len(hotwords) > HOTWORDS_MAX_CHARS:
            raise InvalidRequest(f"hotwords must be text of at most {HOTWORDS_MAX_CHARS} characters")
    except (WireError, AudioCoreError) as exc:
        await _refuse(ws, CLOSE.POLICY, exc.detail)
        return
    key = ws.scope.get("state", {}).get("api_key") if settings.api_keys else None
    address = ws.client.host if ws.client else "unknown"
    pump: StreamPump | None = None
    try:
        with services.streams.slot(key, address):
            ACTIVE_STREAMS.inc()
            try:
                session = StreamSession(settings, services.torchserve, lang, rate, speakers, hotwords or None)
                pump = StreamPump(ws, session, settings)
                await pump.send({"type": "ready", "sample_rate": rate, "language": lang or "auto"})
                await pump.run()
            finally:
                ACTIVE_STREAMS.dec()
                if pump is not None:
                    AUDIO_SECONDS.labels("/ws/asr").inc(pump.session.received_sec)
    except StreamRefused as exc:
        await _refuse(ws, CLOSE.TRY_LATER, exc.detail)
    except (StreamClosed, WebSocketDisconnect):
        pass
    except (ModelUnavailable, ModelTimeout) as exc:
        if pump is not None:
            await pump.close(CLOSE.SERVER_ERROR, exc.detail)
    except (AudioCoreError, WireError) as exc:
        if pump is not None:
            await pump.close(CLOSE.POLICY, exc.detail)
    except Exception:
        log.exception("stream failed")
        if pump is not None:
            await pump.close(CLOSE.SERVER_ERROR, "internal error")


def _speakers(services: Services, ws: WebSocket, diarize: str, known: str | None) -> StreamSpeakers | None:
    """The stream's diarization, when asked for (InvalidRequest for a malformed ask)."""
    try:
        wanted = parse_bool(diarize)
    except ValueError:
        raise InvalidRequest("diarize must be true or false") from None
    if not wanted:
        return None
    options = DiarizeOptions.parse(None, None, None, known)
    tenant = str(ws.scope.get("state", {}).get("tenant", DEFAULT_TENANT))
    return StreamSpeakers(services.diarizer, tenant, options, services.settings.STREAM_DIARIZE_MAX_SEC)


async def _refuse(ws: WebSocket, code: int, detail: str) -> None:
    await ws.send_json({"type": "error", "detail": detail})
    await ws.close(code)
