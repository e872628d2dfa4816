"""Audio endpoints of the seed: /audio/transcribe and /audio/enhance."""

from __future__ import annotations

import asyncio
from pathlib import PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from gateway.app.api.deps import (
    AudioSourceDep,
    DecoderDep,
    DiarizeOptionsDep,
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
from gateway.app.services.diarization import with_speakers
from gateway.app.services.enhancement import EnhanceOptions
from gateway.app.services.fanout import run_pair
from gateway.app.services.metrics import AUDIO_SECONDS
from wire.languages import parse_language
from wire.options import BEAM_SIZE_MAX, HOTWORDS_MAX_CHARS, PROMPT_MAX_CHARS, DecodeOptions

router = APIRouter(prefix="/audio", tags=["Audio"])

ERRORS = {
    400: {"model": ErrorResponse, "description": "Undecodable, damaged or refused audio, or a bad parameter."},
    404: {"model": ErrorResponse, "description": "The named file is not in the store."},
    413: {"model": ErrorResponse, "description": "Upload or audio over the limit."},
    502: {"model": ErrorResponse, "description": "The model failed."},
    503: {"model": ErrorResponse, "description": "The model server is down, or this server is busy (Retry-After)."},
    504: {"model": ErrorResponse, "description": "The model server did not answer in time."},
}


Method = Literal["deepfilternet", "noisereduce"]


@router.post("/transcribe", response_model=TranscribeResponse, responses=ERRORS)  # type: ignore[arg-type]
async def transcribe(
    request: Request,
    audio: AudioSourceDep,
    decoder: DecoderDep,
    transcriber: TranscriberDep,
    settings: SettingsDep,
    diarization: DiarizeOptionsDep,
    tenant: TenantDep,
    diarizer: DiarizerDep,
    language: Annotated[
        str | None, Query(description="Language code, or 'auto' to detect; default DEFAULT_LANGUAGE.")
    ] = None,
    task: Annotated[
        Literal["transcribe", "translate"], Query(description="'translate' gives English text.")
    ] = "transcribe",
    beam_size: Annotated[int, Query(ge=1, le=BEAM_SIZE_MAX, description="Beam width of the decoder.")] = 5,
    word_timestamps: Annotated[bool, Query(description="Add per-word times to each segment.")] = False,
    vad_filter: Annotated[bool, Query(description="Drop non-speech before decoding (Silero VAD).")] = False,
    initial_prompt: Annotated[
        str | None, Query(max_length=PROMPT_MAX_CHARS, description="Text that primes spelling and style.")
    ] = None,
    hotwords: Annotated[
        str | None,
        Query(description=f"Words and names to expect (e.g. product names), at most {HOTWORDS_MAX_CHARS} characters."),
    ] = None,
    enhance: Annotated[bool, Query(description="Denoise before recognition (same request, no extra upload).")] = False,
    enhance_method: Annotated[
        Method | None, Query(description="Denoiser when enhance=true; default: the model's.")
    ] = None,
    diarize: Annotated[
        bool, Query(description="Label every segment (and word) with its speaker; raw.speakers lists them.")
    ] = False,
) -> TranscribeResponse:
    """Transcribe speech (Whisper): any container in, mono SAMPLE_RATE float32 to the model."""
    options = DecodeOptions(
        language=parse_language(language, settings.DEFAULT_LANGUAGE),
        task=task,
        beam_size=beam_size,
        word_timestamps=word_timestamps,
        vad_filter=vad_filter,
        initial_prompt=initial_prompt,
        hotwords=hotwords,
    )
    decoded = await decoder.decode(audio.source)
    AUDIO_SECONDS.labels("/audio/transcribe").inc(decoded.seconds)
    work = transcriber.transcribe(decoded, options, EnhanceOptions(enhance_method) if enhance else None)
    if not diarize:
        result = await until_disconnected(request, work)
        return TranscribeResponse(text=result.text, raw=TranscriptionRaw.of(result))
    # the two models run side by side: diarization adds its own time only where it is the longer
    both = run_pair(work, diarizer.diarize(tenant, decoded.samples, diarization))
    result, who = await until_disconnected(request, both)
    raw = TranscriptionRaw.of(with_speakers(result, who))
    raw.speakers = DiarizedSpeaker.all_of(who)
    return TranscribeResponse(text=result.text, raw=raw)


@router.post("/enhance", response_model=EnhanceResponse, responses=ERRORS)  # type: ignore[arg-type]
async def enhance(
    request: Request,
    audio: AudioSourceDep,
    decoder: DecoderDep,
    enhancer: EnhancerDep,
    store: StoreDep,
    settings: SettingsDep,
    method: Annotated[Method | None, Query(description="deepfilternet (default) or noisereduce.")] = None,
    atten_lim_db: Annotated[
        float | None, Query(gt=0, le=100, description="Most attenuation applied to noise, dB (100: no limit).")
    ] = None,
) -> EnhanceResponse:
    """Denoise audio; the result (mono PCM16 WAV at the input's rate) is stored as <name>_enhanced.wav."""
    decoded = await decoder.decode_native(audio.source, settings.ENHANCE_MAX_SEC)
    AUDIO_SECONDS.labels("/audio/enhance").inc(decoded.seconds)
    work = enhancer.enhance_wav(decoded.samples, decoded.sample_rate, EnhanceOptions(method, atten_lim_db))
    wav = await until_disconnected(request, work)
    stem = PurePath(audio.name.replace("\\", "/")).stem or "audio"
    name = await asyncio.to_thread(store.save_bytes, wav, f"{stem}_enhanced.wav")
    return EnhanceResponse(output_filename=name)
