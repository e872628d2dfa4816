"""The gateway application: ``create_app()`` wires settings, services and routers.

Run it with ``uvicorn --factory gateway.app.main:create_app``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.app.api.errors import install_error_handlers
from gateway.app.api.limits import BodySizeLimit
from gateway.app.api.routes import audio, files, health, openai
from gateway.app.services.file_store import LocalFileStore
from gateway.app.services.torchserve import TorchServeClient
from gateway.app.services.transcription import AudioDecoder, Transcriber
from gateway.core.config import Settings, get_settings

__all__ = ["create_app"]

DESCRIPTION = (
    "REST + WebSocket API for noise suppression, Whisper speech recognition, speaker verification and file storage."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = TorchServeClient(settings)
        app.state.settings = settings
        app.state.store = LocalFileStore(settings.STORAGE_DIR, settings.MAX_FILENAME_CHARS)
        app.state.torchserve = client
        app.state.decoder = AudioDecoder(settings)
        app.state.transcriber = Transcriber(settings, client)
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(title="Audio Core API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.MAX_UPLOAD_BYTES + settings.MULTIPART_OVERHEAD_BYTES)
    for module in (health, files, audio, openai):
        app.include_router(module.router)
    logging.getLogger("gateway").setLevel(logging.INFO)
    return app
