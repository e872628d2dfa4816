"""How audio and options travel from the gateway to a handler, and how a handler reads them.

A request is multipart: part ``audio`` holds raw PCM (``s16le`` from the gateway,
``f32le`` allowed) and part ``params`` a JSON object with ``format``,
``sample_rate`` and the model's options. A direct caller of TorchServe may instead
send any audio container as the body (or as a ``data``/``file`` part); it goes
through the same decoder and limits as the gateway's uploads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wire.audio import DecodeLimits, decode_audio
from wire.errors import ErrorKind, WireError
from wire.pcm import PCM16_SCALE

__all__ = [
    "AUDIO_PART",
    "MAX_RATE",
    "MIN_RATE",
    "MODEL_SAMPLE_RATE",
    "PARAMS_PART",
    "PCM16",
    "REQUEST_ID_HEADER",
    "ModelRequest",
    "multipart_parts",
    "read_request",
]

MODEL_SAMPLE_RATE = 16000  # what the whisper and speaker-embedding handlers take (the enhancer: any)
AUDIO_PART = "audio"
PARAMS_PART = "params"
REQUEST_ID_HEADER = "X-Request-ID"
PCM16 = "s16le"
PCM_DTYPES: dict[str, np.dtype[Any]] = {PCM16: np.dtype("<i2"), "f32le": np.dtype("<f4")}
MIN_RATE, MAX_RATE = 8000, 192000
# Where a direct caller's container may arrive: TorchServe names a raw body "body" or "data".
_AUDIO_KEYS = (AUDIO_PART, "data", "body", "file")


def _invalid_request(detail: str) -> WireError:
    return WireError(ErrorKind.INVALID_REQUEST, detail)


def _invalid_audio(detail: str) -> WireError:
    return WireError(ErrorKind.INVALID_AUDIO, detail)


def multipart_parts(
    pcm16: bytes, sample_rate: int, params: Mapping[str, Any]
) -> dict[str, tuple[str | None, bytes | str, str]]:
    """The gateway's side: httpx ``files=`` for one model request."""
    body = {**params, "format": PCM16, "sample_rate": sample_rate}
    return {
        AUDIO_PART: ("audio.pcm", pcm16, "application/octet-stream"),
        PARAMS_PART: (None, json.dumps(body), "application/json"),
    }


@dataclass
class ModelRequest:
    """One decoded request item: mono float32 audio, its rate, the model's options."""

    audio: np.ndarray
    sample_rate: int
    params: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _invalid_request("audio payload must be binary")


def _params(item: Mapping[str, Any]) -> dict[str, Any]:
    raw = item.get(PARAMS_PART)
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(_as_bytes(raw))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _invalid_request("params must be a JSON object") from exc
    if not isinstance(parsed, dict):
        raise _invalid_request("params must be a JSON object")
    return parsed


def read_request(item: Any, limits: DecodeLimits, sample_rate: int | None) -> ModelRequest:
    """The handler's side: decode one TorchServe item at ``sample_rate`` (None: the audio's own).

    Raises WireError on anything unusable; PCM obeys ``limits`` just as containers do.
    """
    if not isinstance(item, Mapping):
        raise _invalid_request("malformed request")
    params = _params(item)
    key = next((k for k in _AUDIO_KEYS if item.get(k) is not None), None)
    if key is None:
        raise _invalid_request("no audio in request")
    value = item[key]
    if isinstance(value, (dict, list)):
        # A JSON body: our own envelope is multipart, so JSON means params only.
        raise _invalid_request("send audio as a binary body or multipart part")
    data = _as_bytes(value)
    fmt = params.get("format")
    if fmt is None:
        decoded = decode_audio(data, limits, sample_rate)
        return ModelRequest(decoded.samples, decoded.sample_rate, params, decoded.warnings)
    if not isinstance(fmt, str) or fmt not in PCM_DTYPES:
        raise _invalid_request(f"unknown format; use one of {sorted(PCM_DTYPES)}")
    rate = _pcm_rate(params.get("sample_rate", sample_rate))
    if sample_rate is not None and rate != sample_rate:
        raise _invalid_request(f"PCM must be at {sample_rate} Hz")
    return ModelRequest(_pcm(data, PCM_DTYPES[fmt], rate, limits), rate, params)


def _pcm(data: bytes, dtype: np.dtype[Any], rate: int, limits: DecodeLimits) -> np.ndarray:
    if not data or len(data) % dtype.itemsize:
        raise _invalid_audio("PCM payload is empty or not a whole number of samples")
    if len(data) / dtype.itemsize / rate > limits.max_seconds:
        raise WireError(ErrorKind.TOO_LONG, f"audio is longer than {limits.max_seconds:g} s")
    samples = np.frombuffer(data, dtype=dtype)
    if dtype.kind == "i":
        return samples.astype(np.float32) / PCM16_SCALE
    audio = samples.astype(np.float32)
    if not np.all(np.isfinite(audio)):
        raise _invalid_audio("PCM payload holds NaN or infinite samples")
    return audio


def _pcm_rate(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _invalid_request("PCM needs an integer sample_rate")
    try:
        rate = int(value)
    except ValueError as exc:
        raise _invalid_request("PCM needs an integer sample_rate") from exc
    if not MIN_RATE <= rate <= MAX_RATE:
        raise _invalid_request(f"sample_rate must be between {MIN_RATE} and {MAX_RATE} Hz")
    return rate
