"""Turn one TorchServe request item into audio samples and options.

The gateway sends multipart parts ``audio`` (raw PCM) and ``params`` (JSON with
``format`` and ``sample_rate``); a direct caller may send any audio container as
the body or as a ``data``/``file`` part. Decoding of containers uses PyAV, the
same decoder faster-whisper uses, so samples match an in-process run exactly.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np

__all__ = ["BadRequest", "DecodedItem", "decode_container", "decode_item"]

PCM_FORMATS: dict[str, np.dtype[Any]] = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
AUDIO_KEYS = ("audio", "data", "body", "file")
MIN_RATE, MAX_RATE = 8000, 192000


class BadRequest(ValueError):
    """A request item that cannot be served; its message goes back to the caller."""


@dataclass
class DecodedItem:
    audio: np.ndarray  # mono float32
    sample_rate: int
    params: dict[str, Any] = field(default_factory=dict)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise BadRequest("audio payload must be binary")


def _params(item: dict[str, Any]) -> dict[str, Any]:
    raw = item.get("params")
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(_as_bytes(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("params must be a JSON object") from exc
    if not isinstance(parsed, dict):
        raise BadRequest("params must be a JSON object")
    return parsed


def decode_container(data: bytes, sample_rate: int | None) -> tuple[np.ndarray, int]:
    """Decode any container PyAV reads to mono float32 at ``sample_rate`` (None: the file's own)."""
    if not data:
        raise BadRequest("empty audio")
    chunks: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise BadRequest("no audio stream in payload")
            rate = sample_rate or container.streams.audio[0].rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest("undecodable audio") from exc
    if not chunks:
        raise BadRequest("no audio samples in payload")
    return np.concatenate(chunks).astype(np.float32) / 32768.0, rate


def decode_item(item: dict[str, Any], sample_rate: int | None) -> DecodedItem:
    """Decode one request item at ``sample_rate`` (None: keep the audio's own rate).

    Raises BadRequest on anything unusable.
    """
    if not isinstance(item, dict):
        raise BadRequest("malformed request")
    params = _params(item)
    key = next((k for k in AUDIO_KEYS if item.get(k) is not None), None)
    if key is None:
        raise BadRequest("no audio in request")
    value = item[key]
    if isinstance(value, dict):
        # A JSON body: our own envelope is multipart, so JSON means params only.
        raise BadRequest("send audio as a binary body or multipart part")
    data = _as_bytes(value)

    fmt = params.get("format")
    if fmt is None:
        audio, rate = decode_container(data, sample_rate)
        return DecodedItem(audio, rate, params)
    if fmt not in PCM_FORMATS:
        raise BadRequest(f"unknown format {fmt!r}; use one of {sorted(PCM_FORMATS)}")
    rate = _pcm_rate(params.get("sample_rate", sample_rate))
    if sample_rate is not None and rate != sample_rate:
        raise BadRequest(f"PCM must be at {sample_rate} Hz")
    dtype = PCM_FORMATS[fmt]
    if not data or len(data) % dtype.itemsize:
        raise BadRequest("PCM payload is empty or not a whole number of samples")
    samples = np.frombuffer(data, dtype=dtype)
    if dtype.kind == "i":
        return DecodedItem(samples.astype(np.float32) / 32768.0, rate, params)
    audio = samples.astype(np.float32)
    if not np.all(np.isfinite(audio)):
        raise BadRequest("PCM payload holds NaN or infinite samples")
    return DecodedItem(audio, rate, params)


def _pcm_rate(value: Any) -> int:
    try:
        rate = int(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest("PCM needs an integer sample_rate") from exc
    if not MIN_RATE <= rate <= MAX_RATE:
        raise BadRequest(f"sample_rate must be between {MIN_RATE} and {MAX_RATE} Hz")
    return rate
