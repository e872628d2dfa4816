"""Audio endpoints of the seed: /audio/transcribe and /audio/enhance."""

from __future__ import annotations

import asyncio
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.app.api.deps import (
    AudioSourceDep,
    DecoderDep,
    DiarizerDep,
    EnhancerDep,
    SettingsDep,
    StoreDep,
    TenantDep,
    TranscriberDep,
)
from gateway.app.api.disconnect import until_disconnected
from gateway.app.api.schemas import (
    DiarizedSpeaker,
    EnhanceResponse,
    ErrorResponse,
    TranscribeResponse,
    TranscriptionRaw,
)
from gateway.app.api.transcribe_params import EnhanceMethod, TranscribeParamsDep
from gateway.app.api.warnings_header import report_warnings
from gateway.app.services.diarization import with_speakers
from gateway.app.services.enhancement import EnhanceOptions
from gateway.app.services.fanout import run_pair
from gateway.app.services.metrics import AUDIO_SECONDS

router = APIRouter(prefix="/audio", tags=["Audio"])

ERRORS = {
    400: {"model": ErrorResponse, "description": "Undecodable, damaged or refused audio, or a bad parameter."},
    404: {"model": ErrorResponse, "description": "The named file is not in the store."},
    413: {"model": ErrorResponse, "description": "Upload or audio over the limit."},
    502: {"model": ErrorResponse, "description": "The model failed."},
    503: {"model": ErrorResponse, "description": "The model server is down, or this server is busy (Retry-After)."},
    504: {"model": ErrorResponse, "description": "The model server did not answer in time."},
}


@router.post("/transcribe", response_model=TranscribeResponse, responses=ERRORS)  # type: ignore[arg-type]
async def transcribe(
    request: Request,
    response: Response,
    audio: AudioSourceDep,
    decoder: DecoderDep,
    transcriber: TranscriberDep,
    params: TranscribeParamsDep,
    tenant: TenantDep,
    diarizer: DiarizerDep,
) -> TranscribeResponse:
    """Transcribe speech (Whisper): any container in, mono SAMPLE_RATE float32 to the model."""
    decoded = await decoder.decode(audio.source)
    AUDIO_SECONDS.labels("/audio/transcribe").inc(decoded.seconds)
    work = transcriber.transcribe(decoded, params.options, params.enhance)
    if params.diarize is None:
        result = await until_disconnected(request, work)
        report_warnings(response, result.warnings)
        return TranscribeResponse(text=result.text, raw=TranscriptionRaw.of(result))
    # the two models run side by side: diarization adds its own time only where it is the longer
    both = run_pair(work, diarizer.diarize(tenant, decoded.samples, params.diarize))
    result, who = await until_disconnected(request, both)
    raw = TranscriptionRaw.of(with_speakers(result, who))
    raw.speakers = DiarizedSpeaker.all_of(who)
    report_warnings(response, result.warnings)
    return TranscribeResponse(text=result.text, raw=raw)


@router.post("/enhance", response_model=EnhanceResponse, responses=ERRORS)  # type: ignore[arg-type]
async def enhance(
    request: Request,
    response: Response,
    audio: AudioSourceDep,
    decoder: DecoderDep,
    enhancer: EnhancerDep,
    store: StoreDep,
    settings: SettingsDep,
    method: Annotated[EnhanceMethod | None, Query(description="deepfilternet (default) or noisereduce.")] = None,
    atten_lim_db: Annotated[
        float | None, Query(gt=0, le=100, description="Most attenuation applied to noise, dB (100: no limit).")
    ] = None,
) -> EnhanceResponse:
    """Denoise audio; the result (mono PCM16 WAV at the input's rate) is stored as <name>_enhanced.wav."""
    decoded = await decoder.decode_native(audio.source, settings.ENHANCE_MAX_SEC)
    report_warnings(response, decoded.warnings)
    AUDIO_SECONDS.labels("/audio/enhance").inc(decoded.seconds)
    work = enhancer.enhance_wav(decoded.samples, decoded.sample_rate, EnhanceOptions(method, atten_lim_db))
    wav = await until_disconnected(request, work)
    stem = PurePath(audio.name.replace("\\", "/")).stem or "audio"
    name = await asyncio.to_thread(store.save_bytes, wav, f"{stem}_enhanced.wav")
    return EnhanceResponse(output_filename=name)
