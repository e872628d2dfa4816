"""Dependencies shared by the routers: the services, and the audio a request names.

Each takes an ``HTTPConnection``, so HTTP routes and the WebSocket route use the same ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, BinaryIO

from fastapi import Depends, File, Form, Query, UploadFile
from starlette.requests import HTTPConnection

from gateway.app.services.container import Services
from gateway.app.services.diarization import DiarizeOptions, Diarizer
from gateway.app.services.enhancement import Enhancer
from gateway.app.services.file_store import LocalFileStore
from gateway.app.services.microphone import Microphone
from gateway.app.services.speakers import Speakers
from gateway.app.services.stream_admission import StreamAdmission
from gateway.app.services.torchserve import TorchServeClient
from gateway.app.services.transcription import AudioDecoder, Transcriber
from gateway.core.config import Settings
from gateway.core.errors import InvalidRequest
from gateway.core.tenancy import DEFAULT_TENANT


def get_services(conn: HTTPConnection) -> Services:
    """The process's services (built in the lifespan)."""
    services: Services = conn.app.state.services
    return services


def _service(name: str) -> Callable[[HTTPConnection], Any]:
    """A dependency returning one service of the container."""

    def get(conn: HTTPConnection) -> Any:
        return getattr(get_services(conn), name)

    return get


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(_service("settings"))]


def tenant_of(conn: HTTPConnection) -> str:
    """The caller's tenant (set by the access gate from its API key; the default tenant without keys)."""
    return str(conn.scope.get("state", {}).get("tenant", DEFAULT_TENANT))


def tenant_store(conn: HTTPConnection) -> LocalFileStore:
    """The file store of the caller's tenant: another tenant's names are simply not there."""
    return get_services(conn).store.scoped(tenant_of(conn))


TenantDep = Annotated[str, Depends(tenant_of)]
StoreDep = Annotated[LocalFileStore, Depends(tenant_store)]
TorchServeDep = Annotated[TorchServeClient, Depends(_service("torchserve"))]
DecoderDep = Annotated[AudioDecoder, Depends(_service("decoder"))]
TranscriberDep = Annotated[Transcriber, Depends(_service("transcriber"))]
EnhancerDep = Annotated[Enhancer, Depends(_service("enhancer"))]
SpeakersDep = Annotated[Speakers, Depends(_service("speakers"))]
MicrophoneDep = Annotated[Microphone, Depends(_service("microphone"))]
DiarizerDep = Annotated[Diarizer, Depends(_service("diarizer"))]
StreamsDep = Annotated[StreamAdmission, Depends(_service("streams"))]


@dataclass(frozen=True)
class NamedSource:
    """Audio a request refers to, as an open file (never a path), and the name it came with."""

    source: BinaryIO
    name: str


def upload_source(file: UploadFile) -> BinaryIO:
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
) -> AsyncIterator[NamedSource]:
    """The audio a request refers to: an uploaded part ``file`` or a stored ``filename``."""
    stored = filename_form or filename_query
    if file is not None and stored:
        raise InvalidRequest("send either 'file' or 'filename', not both")
    if file is not None:
        yield NamedSource(upload_source(file), file.filename or "audio")
        return
    if not stored:
        raise InvalidRequest("send the audio as a multipart part 'file', or name an uploaded file with 'filename'")
    # The decoder gets the open file, never its path: FFmpeg then cannot resolve names relative to it.
    handle = await asyncio.to_thread(store.open_file, stored)
    try:
        yield NamedSource(handle, stored)
    finally:
        await asyncio.to_thread(handle.close)


AudioSourceDep = Annotated[NamedSource, Depends(audio_source)]


def diarize_options(
    num_speakers: Annotated[int | None, Query(description="The number of speakers, when known (1-20).")] = None,
    min_speakers: Annotated[int | None, Query(description="At least this many speakers (1-20).")] = None,
    max_speakers: Annotated[int | None, Query(description="At most this many speakers (1-20).")] = None,
    known_speakers: Annotated[
        str | None,
        Query(max_length=70_000, description="Enrolled speaker ids (comma list), or 'all', to name speakers from."),
    ] = None,
) -> DiarizeOptions:
    """The diarization parameters, checked (400 naming the field)."""
    return DiarizeOptions.parse(num_speakers, min_speakers, max_speakers, known_speakers)


DiarizeOptionsDep = Annotated[DiarizeOptions, Depends(diarize_options)]
