"""Response models: what the API promises, as OpenAPI sees it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.app.services.diarization import Diarization
from wire.transcript import Segment, Transcription, Word

__all__ = [
    "DiarizeResponse",
    "DiarizedSegment",
    "DiarizedSpeaker",
    "EnhanceResponse",
    "EnrollResponse",
    "ErrorResponse",
    "HealthResponse",
    "IdentifyCandidate",
    "IdentifyResponse",
    "MismatchResponse",
    "OpenAIDiarizedSegment",
    "OpenAIDiarizedTranscription",
    "OpenAITranscription",
    "OpenAIVerboseTranscription",
    "ReadyResponse",
    "Segment",
    "SpeakerItem",
    "SpeakerList",
    "StatusResponse",
    "TranscribeResponse",
    "TranscriptionRaw",
    "UploadResponse",
    "VerifyResponse",
    "Word",
]


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong, for a person to read.")


class MismatchResponse(ErrorResponse):
    score: float | None = Field(None, description="The refused sample against the speaker's reference.")
    threshold: float | None = None


class HealthResponse(BaseModel):
    status: str = Field("ok", examples=["ok"])


class ReadyResponse(BaseModel):
    status: str = Field(description="'ready' when TorchServe and every model answer, else 'not_ready'.")
    torchserve: bool
    models: dict[str, bool] = Field(description="Model name -> has a READY worker.")


class UploadResponse(BaseModel):
    filename: str = Field(description="Name under which the file is stored; use it with /files/download.")


class DiarizedSegment(BaseModel):
    start: float
    end: float
    speaker: str = Field(description="An enrolled speaker_id, or SPEAKER_00, SPEAKER_01, ... in order of appearance.")


class DiarizedSpeaker(BaseModel):
    label: str = Field(description="The name used in segments.")
    speaker_id: str | None = Field(description="The enrolled speaker this voice matched; null when none did.")
    score: float | None = Field(
        description="Cosine of this voice against the best enrolled match (null: none compared)."
    )
    speech_sec: float

    @classmethod
    def all_of(cls, diarization: Diarization) -> list[DiarizedSpeaker]:
        return [
            cls(label=s.label, speaker_id=s.speaker_id, score=s.score, speech_sec=s.speech_sec)
            for s in diarization.speakers
        ]


class DiarizeResponse(BaseModel):
    segments: list[DiarizedSegment]
    speakers: list[DiarizedSpeaker]

    @classmethod
    def of(cls, diarization: Diarization) -> DiarizeResponse:
        return cls(
            segments=[
                DiarizedSegment(start=t.start, end=t.end, speaker=diarization.names[t.label]) for t in diarization.turns
            ],
            speakers=DiarizedSpeaker.all_of(diarization),
        )


class IdentifyCandidate(BaseModel):
    speaker_id: str
    score: float


class IdentifyResponse(BaseModel):
    speaker_id: str | None = Field(description="The best enrolled match at or above the threshold; null when none is.")
    score: float | None = Field(description="The best match's score (null: nobody is enrolled).")
    threshold: float
    candidates: list[IdentifyCandidate] = Field(description="Every compared speaker, best first.")


class TranscriptionRaw(BaseModel):
    language: str | None = Field(description="Language code spoken (given or detected).")
    language_probability: float | None = None
    duration: float = Field(description="Audio length in seconds.")
    model: str | None = Field(description="Weights that produced the transcript.")
    task: str = "transcribe"
    segments: list[Segment]
    warnings: list[str] = Field(
        default_factory=list, description="What decoding had to work around, e.g. damaged packets skipped."
    )
    speakers: list[DiarizedSpeaker] | None = Field(
        None, description="With diarize=true: who spoke, as in /audio/diarize."
    )

    @classmethod
    def of(cls, result: Transcription) -> TranscriptionRaw:
        return cls(
            language=result.language,
            language_probability=result.language_probability,
            duration=result.duration,
            model=result.model,
            task=result.task,
            segments=result.segments,
            warnings=result.warnings,
        )


class TranscribeResponse(BaseModel):
    text: str
    raw: TranscriptionRaw


class EnhanceResponse(BaseModel):
    output_filename: str = Field(description="Stored result; fetch it from /files/download/{output_filename}.")


class VerifyResponse(BaseModel):
    score: float = Field(description="Cosine similarity of the two voices, -1..1.")
    decision: bool = Field(description="score >= threshold: the same speaker.")
    threshold: float
    speaker_id: str | None = Field(
        description="Enrolled speaker compared against; null when a reference file was sent."
    )


class EnrollResponse(BaseModel):
    status: str = "ok"
    speaker_id: str
    samples: int = Field(description="Enrollment samples the speaker now has.")


class SpeakerItem(BaseModel):
    speaker_id: str
    samples: int
    created_at: datetime
    updated_at: datetime


class SpeakerList(BaseModel):
    speakers: list[SpeakerItem]


class StatusResponse(BaseModel):
    status: str = "ok"
    message: str


class OpenAITranscription(BaseModel):
    text: str


class OpenAIDiarizedSegment(BaseModel):
    type: str = "transcript.text.segment"
    id: str
    start: float
    end: float
    text: str
    speaker: str = Field(description="A known_speaker_names[] entry, or A, B, ... for the others.")


class OpenAIDiarizedTranscription(BaseModel):
    task: str = "transcribe"
    duration: float
    text: str
    segments: list[OpenAIDiarizedSegment]


class OpenAIVerboseTranscription(BaseModel):
    task: str
    language: str
    duration: float
    text: str
    segments: list[Segment] | None = None
    words: list[Word] | None = None
