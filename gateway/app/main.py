"""The gateway application: ``create_app()`` wires settings, services and routers.

Run it with ``uvicorn --factory gateway.app.main:create_app``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.app.api.errors import install_error_handlers
from gateway.app.api.limits import BodySizeLimit
from gateway.app.api.middleware import AccessGate, HostOriginGuard, RequestContext
from gateway.app.api.routes import (
    audio,
    diarize,
    files,
    health,
    jobs,
    openai,
    openai_translations,
    speaker,
    stream,
)
from gateway.app.api.security import KeyGuard, TokenBuckets
from gateway.app.services.container import Services
from gateway.app.services.retention import sweep_forever
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import Settings, get_settings

__all__ = ["create_app"]

DESCRIPTION = (
    "REST + WebSocket API for noise suppression, Whisper speech recognition, speaker verification and file storage."
)


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The gateway; ``transport`` replaces the network under the TorchServe client (tests inject faults there)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.create(settings, TorchServeClient(settings, transport))
        app.state.services = services
        background = [asyncio.create_task(sweep_forever(services.store, settings.FILES_TTL_SEC))]
        background += [asyncio.create_task(services.job_runner.run_forever()) for _ in range(settings.JOB_WORKERS)]
        try:
            yield
        finally:
            for task in background:  # a job being worked is handed back for the next replica
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await services.aclose()

    app = FastAPI(title="Audio Core API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    # Starlette runs the last added middleware first: request id, Host/Origin, access gate, then the size limit.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.MAX_UPLOAD_BYTES + settings.MULTIPART_OVERHEAD_BYTES,
        read_timeout_sec=settings.BODY_READ_TIMEOUT_SEC,
    )
    app.add_middleware(
        AccessGate,
        guard=KeyGuard(settings.api_keys),
        rate=TokenBuckets(settings.RATE_LIMIT_PER_MIN),
        auth_failures=TokenBuckets(settings.AUTH_FAILURES_PER_MIN),
    )
    app.add_middleware(HostOriginGuard, hosts=settings.allowed_hosts, origins=settings.allowed_origins)
    app.add_middleware(RequestContext)
    for module in (health, files, audio, diarize, jobs, speaker, stream, openai, openai_translations):
        app.include_router(module.router)
    # A browser page for /ws/asr: microphone -> AudioWorklet -> PCM16 -> partials and final.
    app.mount("/demo", StaticFiles(directory=Path(__file__).parent / "web", html=True), name="demo")
    logging.getLogger("gateway").setLevel(logging.INFO)
    return app
