"""Dependencies shared by the routers: settings, services, and the audio a request names."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, File, Form, Query, Request, UploadFile

from gateway.app.services.enhancement import Enhancer
from gateway.app.services.file_store import LocalFileStore
from gateway.app.services.microphone import Microphone
from gateway.app.services.speakers import Speakers
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


def get_enhancer(request: Request) -> Enhancer:
    return _state(request, "enhancer")  # type: ignore[no-any-return]


def get_speakers(request: Request) -> Speakers:
    return _state(request, "speakers")  # type: ignore[no-any-return]


def get_microphone(request: Request) -> Microphone:
    return _state(request, "microphone")  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EnhancerDep = Annotated[Enhancer, Depends(get_enhancer)]
SpeakersDep = Annotated[Speakers, Depends(get_speakers)]
MicrophoneDep = Annotated[Microphone, Depends(get_microphone)]
StoreDep = Annotated[LocalFileStore, Depends(get_store)]
TorchServeDep = Annotated[TorchServeClient, Depends(get_torchserve)]
DecoderDep = Annotated[AudioDecoder, Depends(get_decoder)]
TranscriberDep = Annotated[Transcriber, Depends(get_transcriber)]


class NamedSource:
    """Audio a request refers to, and the name it came with (for naming results)."""

    def __init__(self, source: Source, name: str) -> None:
        self.source = source
        self.name = name


def upload_source(file: UploadFile) -> Source:
    """An uploaded part as a decodable file object; an empty part is a 400."""
    if file.size == 0:
        raise InvalidRequest("empty file")
    return file.file


async def audio_source(
    store: StoreDep,
    file: Annotated[UploadFile | None, File(description="Audio in any common container.")] = None,
    filename_form: Annotated[
        str | None, Form(alias="filename", description="Name of an already uploaded file.")
    ] = None,
    filename_query: Annotated[
        str | None, Query(alias="filename", description="Name of an already uploaded file.")
    ] = None,
) -> NamedSource:
    """The audio a request refers to: an uploaded part ``file`` or a stored ``filename``."""
    stored = filename_form or filename_query
    if file is not None and stored:
        raise InvalidRequest("send either 'file' or 'filename', not both")
    if file is not None:
        return NamedSource(upload_source(file), file.filename or "audio")
    if stored:
        return NamedSource(str(await asyncio.to_thread(store.open_path, stored)), stored)
    raise InvalidRequest("send the audio as a multipart part 'file', or name an uploaded file with 'filename'")


AudioSourceDep = Annotated[NamedSource, Depends(audio_source)]
