"""OpenAI-compatible speech-to-text: POST /v1/audio/transcriptions.

The official ``openai`` client works against it unchanged (base_url=".../v1").
As in OpenAI's API, ``language`` is detected when not given.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from gateway.app.api.deps import DecoderDep, DiarizerDep, SpeakersDep, TenantDep, TranscriberDep, upload_source
from gateway.app.api.disconnect import until_disconnected
from gateway.app.api.known_voices import known_voices
from gateway.app.api.routes.audio import ERRORS
from gateway.app.api.schemas import (
    OpenAIDiarizedSegment,
    OpenAIDiarizedTranscription,
    OpenAITranscription,
    OpenAIVerboseTranscription,
)
from gateway.app.api.warnings_header import report_warnings
from gateway.app.services.diarization import DiarizeOptions, letters, speaker_turns, with_speakers
from gateway.app.services.fanout import run_pair
from gateway.core.transcript import to_srt, to_vtt
from wire.languages import LANGUAGE_NAMES, parse_language
from wire.options import HOTWORDS_MAX_CHARS, PROMPT_MAX_CHARS, DecodeOptions
from wire.transcript import Transcription

router = APIRouter(prefix="/v1", tags=["OpenAI compatible"])

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]


@router.post(
    "/audio/transcriptions",
    response_model=OpenAITranscription | OpenAIVerboseTranscription,
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/plain": {}}}},  # type: ignore[dict-item]
)
async def create_transcription(
    request: Request,
    decoder: DecoderDep,
    transcriber: TranscriberDep,
    diarizer: DiarizerDep,
    speakers: SpeakersDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File(description="Audio in any common container.")],
    model: Annotated[
        str, Form(description="Accepted for compatibility; the served weights are reported.")
    ] = "whisper-1",
    language: Annotated[str | None, Form(description="ISO 639-1 code; detected when absent.")] = None,
    prompt: Annotated[
        str | None, Form(max_length=PROMPT_MAX_CHARS, description="Text that primes spelling and style.")
    ] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0, description="0 lets the decoder raise it on failure.")] = 0.0,
    timestamp_granularities: Annotated[
        list[Literal["word", "segment"]] | None, Form(alias="timestamp_granularities[]")
    ] = None,
    known_speaker_names: Annotated[
        list[str] | None, Form(alias="known_speaker_names[]", description="diarized_json: names of the voices below.")
    ] = None,
    known_speaker_references: Annotated[
        list[str] | None,
        Form(
            alias="known_speaker_references[]", description="diarized_json: a short clip of each voice, as a data URL."
        ),
    ] = None,
    hotwords: Annotated[
        str | None,
        Form(description=f"Words and names to expect (faster-whisper's), at most {HOTWORDS_MAX_CHARS} characters."),
    ] = None,
    stream: Annotated[
        bool, Form(description="Server-sent events: transcript.text.delta per piece, then transcript.text.done.")
    ] = False,
    chunking_strategy: Annotated[
        str | None, Form(max_length=2000, description="Accepted: long audio is always cut at quiet points here.")
    ] = None,
) -> Response:
    """Transcribe audio the way OpenAI's /v1/audio/transcriptions does (json, text, srt, vtt, verbose_json,
    and diarized_json: segments by speaker, named from known_speaker_names[] where the voices match)."""
    granularities = set(timestamp_granularities or ["segment"])
    diarized = response_format == "diarized_json"
    options = DecodeOptions(
        language=parse_language(language),
        initial_prompt=prompt,
        word_timestamps="word" in granularities or diarized,
        temperature=temperature or None,
        hotwords=hotwords,
    )
    audio = await decoder.decode(upload_source(file))
    if diarized:
        voices, voice_warnings = await known_voices(
            known_speaker_names or [], known_speaker_references or [], decoder, speakers
        )
        both = run_pair(
            transcriber.transcribe(audio, options),
            diarizer.diarize(tenant, audio.samples, DiarizeOptions(), voices=voices, unnamed=letters),
        )
        result, who = await until_disconnected(request, both)
        turns = speaker_turns(with_speakers(result, who))
        body = OpenAIDiarizedTranscription(
            duration=result.duration,
            text=result.text,
            segments=[
                OpenAIDiarizedSegment(id=f"seg_{i}", start=a, end=b, text=text, speaker=speaker)
                for i, (a, b, speaker, text) in enumerate(turns)
            ],
        )
        response: Response = JSONResponse(body.model_dump())
        report_warnings(response, [*result.warnings, *voice_warnings])
        return response
    if stream:  # what the decoder had to work around is known before the first event
        response = StreamingResponse(
            text_events(transcriber.pieces(audio, options, first_alone=True)), media_type="text/event-stream"
        )
        report_warnings(response, audio.warnings)
        return response
    result = await until_disconnected(request, transcriber.transcribe(audio, options))
    return formatted(result, response_format, granularities)


def formatted(result: Transcription, response_format: str, granularities: set[str]) -> Response:
    """A transcription (or translation) in one of OpenAI's response formats; what /audio/transcribe says in
    ``warnings`` (damaged packets skipped, a file cut short) comes in the ``X-AudioCore-Warnings`` header,
    a JSON list, since OpenAI's bodies have no place for it."""
    response = _body(result, response_format, granularities)
    report_warnings(response, result.warnings)
    return response


def _body(result: Transcription, response_format: str, granularities: set[str]) -> Response:
    segments = result.segments
    if response_format == "text":
        return PlainTextResponse(result.text + "\n")
    if response_format == "srt":
        return PlainTextResponse(to_srt(segments))
    if response_format == "vtt":
        return PlainTextResponse(to_vtt(segments), media_type="text/vtt")
    if response_format == "json":
        return JSONResponse(OpenAITranscription(text=result.text).model_dump())
    verbose = OpenAIVerboseTranscription(
        task=result.task,
        language=LANGUAGE_NAMES.get(result.language or "", result.language or ""),
        duration=result.duration,
        text=result.text,
        segments=segments if "segment" in granularities else None,
        words=[w for s in segments for w in s.words or []] if "word" in granularities else None,
    )
    return JSONResponse(verbose.model_dump(exclude_none=True))


async def text_events(pieces: AsyncIterator[tuple[float, Transcription]]) -> AsyncIterator[str]:
    """OpenAI's streamed transcription: a ``transcript.text.delta`` as each piece is done (in order), then
    ``transcript.text.done``. A client that goes away stops the stream, and with it the pieces not yet sent."""
    parts: list[str] = []
    async for _, piece in pieces:
        delta = "".join(segment.text for segment in piece.segments)
        if not parts:
            delta = delta.lstrip()
        if delta:
            parts.append(delta)
            yield _event({"type": "transcript.text.delta", "delta": delta})
    yield _event({"type": "transcript.text.done", "text": "".join(parts).strip()})


def _event(payload: dict[str, str]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
