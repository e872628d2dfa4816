"""The one place where errors become HTTP status codes (anything unexpected: a 500 in RequestContext)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.core.errors import (
    AudioCoreError,
    ClientGone,
    DeviceBusy,
    DeviceUnavailable,
    FeatureDisabled,
    FileNotFound,
    InvalidRequest,
    JobConflict,
    JobNotFound,
    ModelError,
    ModelTimeout,
    ModelUnavailable,
    ServerBusy,
    SpeakerMismatch,
    SpeakerNotFound,
    SpeakerStoreFull,
    StorageFull,
    TooManyJobs,
    UploadTooLarge,
)
from wire.errors import STATUS_BY_KIND, ErrorKind, WireError

__all__ = ["STATUS_BY_ERROR", "install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[AudioCoreError], int] = {
    InvalidRequest: 400,
    FileNotFound: 404,
    SpeakerNotFound: 404,
    JobNotFound: 404,
    JobConflict: 409,
    TooManyJobs: 429,
    FeatureDisabled: 403,
    DeviceBusy: 409,
    SpeakerStoreFull: 409,
    SpeakerMismatch: 409,
    DeviceUnavailable: 503,
    ServerBusy: 503,
    UploadTooLarge: 413,
    StorageFull: 507,
    ModelError: 502,
    ModelUnavailable: 503,
    ModelTimeout: 504,
    ClientGone: 499,  # nginx's code for a client that closed the request
}


def status_for(exc: AudioCoreError | WireError) -> int:
    if isinstance(exc, WireError):
        # a handler's internal failure is the model server's fault, not the gateway's
        return 502 if exc.kind is ErrorKind.INTERNAL else STATUS_BY_KIND[exc.kind]
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, (AudioCoreError, WireError))
    retry_after = getattr(exc, "retry_after", None)  # ServerBusy, TooManyJobs
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    extra = exc.extra if isinstance(exc, AudioCoreError) and exc.extra else {}
    return JSONResponse({"detail": exc.detail, **extra}, status_code=status_for(exc), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AudioCoreError, _domain_error)
    app.add_exception_handler(WireError, _domain_error)
