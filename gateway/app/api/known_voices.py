"""OpenAI's known_speaker_names[] / known_speaker_references[]: voices sent with the request as data URLs."""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np

from gateway.app.services.speakers import Speakers
from gateway.app.services.transcription import AudioDecoder
from gateway.core.errors import InvalidRequest
from wire.errors import WireError

__all__ = ["MAX_KNOWN_SPEAKERS", "known_voices"]

MAX_KNOWN_SPEAKERS = 4  # as OpenAI's diarizing model takes
_MAX_REFERENCE_BYTES = 4 * 1024 * 1024  # a 10 s sample is far less, in any container
_MIN_VOICED_SEC = 1.0


async def known_voices(
    names: list[str], references: list[str], decoder: AudioDecoder, speakers: Speakers
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Name -> embedding of each reference clip, and what decoding them had to work around (each warning
    prefixed with its field); InvalidRequest (400) naming the field at fault."""
    if len(names) != len(references):
        raise InvalidRequest("known_speaker_names[] and known_speaker_references[] must have as many entries")
    if len(names) > MAX_KNOWN_SPEAKERS:
        raise InvalidRequest(f"known_speaker_names[] takes at most {MAX_KNOWN_SPEAKERS} speakers")
    if len(set(names)) != len(names) or not all(0 < len(n) <= 64 for n in names):
        raise InvalidRequest("known_speaker_names[] must be distinct names of 1-64 characters")
    voices: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    for n, (name, url) in enumerate(zip(names, references, strict=True)):
        field = f"known_speaker_references[{n}]"
        data = _data_url(url, field)
        try:
            decoded = await decoder.decode(io.BytesIO(data))
            embedded, voiced = await speakers.embed_voiced(decoded.samples)
        except WireError as exc:
            raise InvalidRequest(f"{field}: {exc.detail}") from exc
        if voiced < _MIN_VOICED_SEC:
            raise InvalidRequest(f"{field} holds {voiced:.1f} s of voice: at least {_MIN_VOICED_SEC:g} s is needed")
        voices[name] = embedded
        warnings += [f"{field}: {warning}" for warning in decoded.warnings]
    return voices, warnings


def _data_url(url: str, field: str) -> bytes:
    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise InvalidRequest(f"{field} must be a data URL: data:audio/...;base64,...")
    if len(payload) > _MAX_REFERENCE_BYTES * 4 // 3 + 4:
        raise InvalidRequest(f"{field} is larger than {_MAX_REFERENCE_BYTES} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{field} is not valid base64") from exc
