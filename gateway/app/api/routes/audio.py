"""Speech recognition of files: the seed's /audio/transcribe."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gateway.app.api.deps import AudioSourceDep, DecoderDep, SettingsDep, TranscriberDep
from gateway.app.api.schemas import ErrorResponse, TranscribeResponse, TranscriptionRaw
from gateway.core.languages import normalize_language

router = APIRouter(prefix="/audio", tags=["Audio"])

ERRORS = {
    400: {"model": ErrorResponse, "description": "Undecodable audio or a bad parameter."},
    404: {"model": ErrorResponse, "description": "The named file is not in the store."},
    413: {"model": ErrorResponse, "description": "Upload or audio over the limit."},
    503: {"model": ErrorResponse, "description": "The model server is down."},
    504: {"model": ErrorResponse, "description": "The model server did not answer in time."},
}


@router.post("/transcribe", response_model=TranscribeResponse, responses=ERRORS)  # type: ignore[arg-type]
async def transcribe(
    source: AudioSourceDep,
    decoder: DecoderDep,
    transcriber: TranscriberDep,
    settings: SettingsDep,
    language: Annotated[
        str | None, Query(description="Language code, or 'auto' to detect; default DEFAULT_LANGUAGE.")
    ] = None,
    task: Annotated[
        Literal["transcribe", "translate"], Query(description="'translate' gives English text.")
    ] = "transcribe",
    beam_size: Annotated[int, Query(ge=1, le=10, description="Beam width of the decoder.")] = 5,
    word_timestamps: Annotated[bool, Query(description="Add per-word times to each segment.")] = False,
    vad_filter: Annotated[bool, Query(description="Drop non-speech before decoding (Silero VAD).")] = False,
    initial_prompt: Annotated[
        str | None, Query(max_length=1000, description="Text that primes spelling and style.")
    ] = None,
) -> TranscribeResponse:
    """Transcribe speech (Whisper): any container in, mono SAMPLE_RATE float32 to the model."""
    options = {
        "language": normalize_language(language, settings.DEFAULT_LANGUAGE),
        "task": task,
        "beam_size": beam_size,
        "word_timestamps": word_timestamps,
        "vad_filter": vad_filter,
        "initial_prompt": initial_prompt,
    }
    audio = await decoder.decode(source)
    result = await transcriber.transcribe(audio, options)
    return TranscribeResponse(text=result["text"], raw=TranscriptionRaw.model_validate(result))
