"""Speaker verification, enrollment and the server-microphone training endpoint."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from gateway.app.api.deps import DecoderDep, MicrophoneDep, SettingsDep, SpeakersDep, TenantDep, upload_source
from gateway.app.api.routes.audio import ERRORS
from gateway.app.api.schemas import (
    EnrollResponse,
    ErrorResponse,
    IdentifyCandidate,
    IdentifyResponse,
    MismatchResponse,
    SpeakerItem,
    SpeakerList,
    StatusResponse,
    VerifyResponse,
)
from gateway.app.api.warnings_header import report_warnings
from gateway.core.errors import FeatureDisabled, InvalidRequest
from gateway.core.speakers import check_speaker_id

router = APIRouter(prefix="/speaker", tags=["Speaker"])

DEFAULT_SPEAKER = "default"
SpeakerForm = Annotated[str | None, Form(alias="speaker_id", description="Enrolled speaker (default 'default').")]
SpeakerQuery = Annotated[str | None, Query(alias="speaker_id", description="Same as the form field.")]


def _speaker(form: str | None, query: str | None) -> str:
    return check_speaker_id(form or query or DEFAULT_SPEAKER)


@router.post("/verify", response_model=VerifyResponse, responses=ERRORS)  # type: ignore[arg-type]
async def verify(
    response: Response,
    tenant: TenantDep,
    decoder: DecoderDep,
    speakers: SpeakersDep,
    probe: Annotated[UploadFile, File(description="The voice to check.")],
    reference: Annotated[UploadFile | None, File(description="A voice to compare with; else the enrolled one.")] = None,
    speaker_form: SpeakerForm = None,
    speaker_query: SpeakerQuery = None,
) -> VerifyResponse:
    """Is the probe the same speaker as the reference file, or as the enrolled speaker_id?"""
    probe_audio = await decoder.decode(upload_source(probe))
    said = [f"probe: {w}" for w in probe_audio.warnings]  # which of the (up to) two files
    if reference is not None:
        reference_audio = await decoder.decode(upload_source(reference))
        report_warnings(response, said + [f"reference: {w}" for w in reference_audio.warnings])
        result = await speakers.verify_pair(probe_audio.samples, reference_audio.samples)
        return VerifyResponse(score=result.score, decision=result.decision, threshold=result.threshold, speaker_id=None)
    report_warnings(response, said)
    speaker_id = _speaker(speaker_form, speaker_query)
    result = await speakers.verify_enrolled(tenant, probe_audio.samples, speaker_id)
    return VerifyResponse(
        score=result.score, decision=result.decision, threshold=result.threshold, speaker_id=speaker_id
    )


@router.post("/identify", response_model=IdentifyResponse, responses=ERRORS)  # type: ignore[arg-type]
async def identify(
    response: Response,
    tenant: TenantDep,
    decoder: DecoderDep,
    speakers: SpeakersDep,
    settings: SettingsDep,
    probe: Annotated[UploadFile, File(description="The voice to identify.")],
    candidates: Annotated[
        str | None, Form(max_length=70_000, description="Enrolled ids to compare with (comma list); default: all.")
    ] = None,
) -> IdentifyResponse:
    """Who of the enrolled speakers is this (1:N, open set: null when nobody scores at the threshold)?"""
    wanted = [check_speaker_id(c.strip()) for c in candidates.split(",") if c.strip()] if candidates else None
    audio = await decoder.decode(upload_source(probe))
    report_warnings(response, audio.warnings)
    ranked = await speakers.identify(tenant, audio.samples, wanted)
    threshold = settings.SPEAKER_THRESHOLD
    best = ranked[0] if ranked else None
    return IdentifyResponse(
        speaker_id=best[0] if best and best[1] >= threshold else None,
        score=round(best[1], 4) if best else None,
        threshold=threshold,
        candidates=[IdentifyCandidate(speaker_id=sid, score=round(score, 4)) for sid, score in ranked],
    )


ENROLL_ERRORS = {
    **ERRORS,
    409: {
        "model": MismatchResponse,
        "description": "Sample limit reached, or the sample is another voice (with its score).",
    },
}


@router.post("/enroll", response_model=EnrollResponse, responses=ENROLL_ERRORS)  # type: ignore[arg-type]
async def enroll(
    response: Response,
    tenant: TenantDep,
    decoder: DecoderDep,
    speakers: SpeakersDep,
    file: Annotated[UploadFile, File(description="A recording of the speaker; several enrolls are combined.")],
    speaker_form: SpeakerForm = None,
    speaker_query: SpeakerQuery = None,
    replace: Annotated[
        bool, Query(description="Start the speaker over with this sample (required when it is another voice).")
    ] = False,
) -> EnrollResponse:
    """Add a voice sample to a speaker (created on first enroll); a sample of another voice is refused (409)."""
    speaker_id = _speaker(speaker_form, speaker_query)
    audio = await decoder.decode(upload_source(file))
    report_warnings(response, audio.warnings)
    done = await speakers.enroll(tenant, speaker_id, audio.samples, "upload", replace=replace)
    return EnrollResponse(speaker_id=speaker_id, samples=done.samples)


@router.get("/speakers", response_model=SpeakerList)
async def list_speakers(tenant: TenantDep, speakers: SpeakersDep) -> SpeakerList:
    """Enrolled speakers (of the caller's tenant) with their sample counts."""
    rows = await speakers.list(tenant)
    return SpeakerList(speakers=[SpeakerItem(**vars(row)) for row in rows])


@router.delete(
    "/speakers/{speaker_id}",
    response_model=StatusResponse,
    responses={400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
async def delete_speaker(tenant: TenantDep, speaker_id: str, speakers: SpeakersDep) -> StatusResponse:
    """Forget a speaker and all its samples."""
    await speakers.delete(tenant, check_speaker_id(speaker_id))
    return StatusResponse(message=f"speaker '{speaker_id}' deleted")


@router.post(
    "/train/microphone",
    response_model=StatusResponse,
    responses={**ERRORS, 403: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},  # type: ignore[dict-item]
)
async def train_from_microphone(
    tenant: TenantDep,
    settings: SettingsDep,
    microphone: MicrophoneDep,
    speakers: SpeakersDep,
    seconds: Annotated[float | None, Query(gt=0, description="Recording length (default MIC_DEFAULT_SEC).")] = None,
    speaker_form: SpeakerForm = None,
    speaker_query: SpeakerQuery = None,
) -> StatusResponse:
    """Record from the server's microphone and enroll it. Off unless MIC_TRAINING_ENABLED=true."""
    if not settings.MIC_TRAINING_ENABLED:
        raise FeatureDisabled("microphone training is disabled on this server (set MIC_TRAINING_ENABLED=true)")
    duration = seconds or settings.MIC_DEFAULT_SEC
    if duration > settings.MIC_MAX_SEC:
        raise InvalidRequest(f"seconds must be at most {settings.MIC_MAX_SEC:g}")
    speaker_id = _speaker(speaker_form, speaker_query)
    audio = await asyncio.to_thread(microphone.record, duration)
    samples = (await speakers.enroll(tenant, speaker_id, audio, "microphone")).samples
    return StatusResponse(
        message=f"recorded {duration:g} s and enrolled speaker '{speaker_id}' ({samples} sample{'s' * (samples != 1)})"
    )
