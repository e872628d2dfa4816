"""The file store over HTTP: upload, download and delete, each within the caller's tenant."""

from __future__ import annotations

import asyncio
import mimetypes
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import FileResponse

from gateway.app.api.deps import SettingsDep, StoreDep
from gateway.app.api.schemas import ErrorResponse, StatusResponse, UploadResponse

router = APIRouter(prefix="/files", tags=["Files"])


@router.post(
    "/upload",
    response_model=UploadResponse,
    responses={400: {"model": ErrorResponse}, 413: {"model": ErrorResponse}, 507: {"model": ErrorResponse}},
)
async def upload(
    file: Annotated[UploadFile, File(description="Any file; audio is usual.")],
    store: StoreDep,
    settings: SettingsDep,
) -> UploadResponse:
    """Store a file; the answer names it (a suffix is added when the name is taken)."""
    name = await asyncio.to_thread(store.save, file.file, file.filename, settings.MAX_UPLOAD_BYTES)
    return UploadResponse(filename=name)


@router.head("/download/{filename}", include_in_schema=False)
@router.get(
    "/download/{filename}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorResponse}},
)
async def download(filename: str, store: StoreDep) -> FileResponse:
    """Stream a stored file back (HEAD: its headers only); 404 when there is no such file."""
    path = await asyncio.to_thread(store.open_path, filename)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # nosniff: a stored upload is never rendered as something its declared type is not
    headers = {"X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=media_type, filename=path.name, headers=headers)


@router.delete("/{filename}", response_model=StatusResponse, responses={404: {"model": ErrorResponse}})
async def delete(filename: str, store: StoreDep) -> StatusResponse:
    """Delete a stored file (uploads and results alike); 404 when there is no such file."""
    await asyncio.to_thread(store.delete, filename)
    return StatusResponse(message=f"file '{filename}' deleted")
