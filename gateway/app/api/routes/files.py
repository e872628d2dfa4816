"""The file store over HTTP: upload and download."""

from __future__ import annotations

import asyncio
import mimetypes
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import FileResponse

from gateway.app.api.deps import SettingsDep, StoreDep
from gateway.app.api.schemas import ErrorResponse, UploadResponse

router = APIRouter(prefix="/files", tags=["Files"])


@router.post(
    "/upload",
    response_model=UploadResponse,
    responses={400: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
)
async def upload(
    file: Annotated[UploadFile, File(description="Any file; audio is usual.")],
    store: StoreDep,
    settings: SettingsDep,
) -> UploadResponse:
    """Store a file; the answer names it (a suffix is added when the name is taken)."""
    name = await asyncio.to_thread(store.save, file.file, file.filename, settings.MAX_UPLOAD_BYTES)
    return UploadResponse(filename=name)


@router.get(
    "/download/{filename}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorResponse}},
)
async def download(filename: str, store: StoreDep) -> FileResponse:
    """Stream a stored file back; 404 when there is no such file."""
    path = await asyncio.to_thread(store.open_path, filename)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=path.name)
