"""Dependencies shared by the routers: settings, services, and the audio a request names."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


def _from_state(name: str) -> Callable[[Request], Any]:
    """A dependency returning ``app.state.<name>`` (set up once in the lifespan)."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


SettingsDep = Annotated[Settings, Depends(_from_state("settings"))]
StoreDep = Annotated[LocalFileStore, Depends(_from_state("store"))]
TorchServeDep = Annotated[TorchServeClient, Depends(_from_state("torchserve"))]
DecoderDep = Annotated[AudioDecoder, Depends(_from_state("decoder"))]
TranscriberDep = Annotated[Transcriber, Depends(_from_state("transcriber"))]
EnhancerDep = Annotated[Enhancer, Depends(_from_state("enhancer"))]
SpeakersDep = Annotated[Speakers, Depends(_from_state("speakers"))]
MicrophoneDep = Annotated[Microphone, Depends(_from_state("microphone"))]


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
