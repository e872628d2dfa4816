"""The one place where domain errors become HTTP status codes."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.core.errors import (
    AudioCoreError,
    AudioTooLong,
    Conflict,
    DeviceUnavailable,
    FileNotFound,
    Forbidden,
    InvalidRequest,
    ModelError,
    ModelTimeout,
    ModelUnavailable,
    SpeakerNotFound,
    UploadTooLarge,
)

__all__ = ["STATUS_BY_ERROR", "install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[AudioCoreError], int] = {
    InvalidRequest: 400,  # also InvalidAudio, UnsupportedLanguage
    FileNotFound: 404,
    SpeakerNotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    DeviceUnavailable: 503,
    AudioTooLong: 413,
    UploadTooLarge: 413,
    ModelError: 502,
    ModelUnavailable: 503,
    ModelTimeout: 504,
}


def status_for(exc: AudioCoreError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AudioCoreError)
    return JSONResponse({"detail": exc.detail}, status_code=status_for(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AudioCoreError, _domain_error)
    app.add_exception_handler(Exception, _unexpected)
