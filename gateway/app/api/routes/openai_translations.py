"""OpenAI-compatible speech translation: POST /v1/audio/translations (any spoken language to English text)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from gateway.app.api.deps import DecoderDep, TranscriberDep, upload_source
from gateway.app.api.disconnect import until_disconnected
from gateway.app.api.routes.audio import ERRORS
from gateway.app.api.routes.openai import formatted
from gateway.app.api.schemas import OpenAITranscription, OpenAIVerboseTranscription
from wire.options import PROMPT_MAX_CHARS, DecodeOptions

router = APIRouter(prefix="/v1", tags=["OpenAI compatible"])


@router.post(
    "/audio/translations",
    response_model=OpenAITranscription | OpenAIVerboseTranscription,
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/plain": {}}}},  # type: ignore[dict-item]
)
async def create_translation(
    request: Request,
    decoder: DecoderDep,
    transcriber: TranscriberDep,
    file: Annotated[UploadFile, File(description="Audio in any common container.")],
    model: Annotated[
        str, Form(description="Accepted for compatibility; the served weights are reported.")
    ] = "whisper-1",
    prompt: Annotated[
        str | None, Form(max_length=PROMPT_MAX_CHARS, description="English text that primes spelling and style.")
    ] = None,
    response_format: Annotated[Literal["json", "text", "srt", "verbose_json", "vtt"], Form()] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0, description="0 lets the decoder raise it on failure.")] = 0.0,
) -> Response:
    """Translate speech into English text, as OpenAI's /v1/audio/translations does (the language is detected)."""
    options = DecodeOptions(task="translate", initial_prompt=prompt, temperature=temperature or None)
    audio = await decoder.decode(upload_source(file))
    result = await until_disconnected(request, transcriber.transcribe(audio, options))
    return formatted(result, response_format, {"segment"})
