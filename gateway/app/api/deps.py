"""Dependencies shared by the routers: settings, services, and the audio a request names."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, File, Form, Query, Request, UploadFile

from gateway.app.services.file_store import LocalFileStore
from gateway.app.services.torchserve import TorchServeClient
from gateway.app.services.transcription import AudioDecoder, Transcriber
from gateway.core.audio import Source
from gateway.core.config import Settings
from gateway.core.errors import InvalidRequest


def _state(request: Request, name: str) -> Any:
    return getattr(request.app.state, name)


def get_app_settings(request: Request) -> Settings:
    return _state(request, "settings")  # type: ignore[no-any-return]


def get_store(request: Request) -> LocalFileStore:
    return _state(request, "store")  # type: ignore[no-any-return]


def get_torchserve(request: Request) -> TorchServeClient:
    return _state(request, "torchserve")  # type: ignore[no-any-return]


def get_decoder(request: Request) -> AudioDecoder:
    return _state(request, "decoder")  # type: ignore[no-any-return]


def get_transcriber(request: Request) -> Transcriber:
    return _state(request, "transcriber")  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
StoreDep = Annotated[LocalFileStore, Depends(get_store)]
TorchServeDep = Annotated[TorchServeClient, Depends(get_torchserve)]
DecoderDep = Annotated[AudioDecoder, Depends(get_decoder)]
TranscriberDep = Annotated[Transcriber, Depends(get_transcriber)]


async def audio_source(
    store: StoreDep,
    file: Annotated[UploadFile | None, File(description="Audio in any common container.")] = None,
    filename_form: Annotated[
        str | None, Form(alias="filename", description="Name of an already uploaded file.")
    ] = None,
    filename_query: Annotated[
        str | None, Query(alias="filename", description="Name of an already uploaded file.")
    ] = None,
) -> Source:
    """The audio a request refers to: an uploaded part ``file`` or a stored ``filename``."""
    stored = filename_form or filename_query
    if file is not None and stored:
        raise InvalidRequest("send either 'file' or 'filename', not both")
    if file is not None:
        if file.size == 0:
            raise InvalidRequest("empty file")
        return file.file
    if stored:
        return str(await asyncio.to_thread(store.open_path, stored))
    raise InvalidRequest("send the audio as a multipart part 'file', or name an uploaded file with 'filename'")


AudioSourceDep = Annotated[Source, Depends(audio_source)]
