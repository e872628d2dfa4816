"""The query parameters of a transcription (/audio/transcribe and /jobs/transcribe take the same)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query

from gateway.app.api.deps import DiarizeOptionsDep, SettingsDep
from gateway.app.services.enhancement import EnhanceOptions
from gateway.app.services.transcribe_request import TranscribeRequest
from wire.languages import parse_language
from wire.options import BEAM_SIZE_MAX, HOTWORDS_MAX_CHARS, PROMPT_MAX_CHARS, DecodeOptions

__all__ = ["EnhanceMethod", "TranscribeParamsDep"]

EnhanceMethod = Literal["deepfilternet", "noisereduce"]


def transcribe_params(
    settings: SettingsDep,
    diarization: DiarizeOptionsDep,
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
        EnhanceMethod | None, Query(description="Denoiser when enhance=true; default: the model's.")
    ] = None,
    diarize: Annotated[
        bool, Query(description="Label every segment (and word) with its speaker; raw.speakers lists them.")
    ] = False,
) -> TranscribeRequest:
    options = DecodeOptions(
        language=parse_language(language, settings.DEFAULT_LANGUAGE),
        task=task,
        beam_size=beam_size,
        word_timestamps=word_timestamps,
        vad_filter=vad_filter,
        initial_prompt=initial_prompt,
        hotwords=hotwords,
    )
    return TranscribeRequest(
        options=options,
        enhance=EnhanceOptions(enhance_method) if enhance else None,
        diarize=diarization if diarize else None,
    )


TranscribeParamsDep = Annotated[TranscribeRequest, Depends(transcribe_params)]
