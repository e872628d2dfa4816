"""Who spoke when: POST /audio/diarize (its parameters are shared with /audio/transcribe?diarize=true: deps)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from gateway.app.api.deps import AudioSourceDep, DecoderDep, DiarizeOptionsDep, DiarizerDep, TenantDep
from gateway.app.api.disconnect import until_disconnected
from gateway.app.api.routes.audio import ERRORS
from gateway.app.api.schemas import DiarizeResponse
from gateway.app.api.warnings_header import report_warnings
from gateway.app.services.metrics import AUDIO_SECONDS
from gateway.core.diarization import to_rttm

router = APIRouter(prefix="/audio", tags=["Audio"])


@router.post(
    "/diarize",
    response_model=DiarizeResponse,
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/plain": {}}}},  # type: ignore[dict-item]
)
async def diarize(
    request: Request,
    tenant: TenantDep,
    audio: AudioSourceDep,
    decoder: DecoderDep,
    diarizer: DiarizerDep,
    options: DiarizeOptionsDep,
    format: Annotated[Literal["json", "rttm"], Query(description="json, or standard RTTM text.")] = "json",
) -> Response:
    """Who spoke when: speaker turns, named from enrolled voices where they match (`known_speakers`)."""
    decoded = await decoder.decode(audio.source)
    AUDIO_SECONDS.labels("/audio/diarize").inc(decoded.seconds)
    result = await until_disconnected(request, diarizer.diarize(tenant, decoded.samples, options))
    if format == "rttm":
        response: Response = PlainTextResponse(to_rttm(result.turns, result.names, file_id=_file_id(audio.name)))
    else:
        response = Response(DiarizeResponse.of(result).model_dump_json(), media_type="application/json")
    report_warnings(response, decoded.warnings)
    return response


def _file_id(name: str) -> str:
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:64] or "audio"
