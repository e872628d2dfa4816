"""PCM16 and mono WAV both ways, and the silence test: the gateway's and the handlers' one convention.

Decoded audio is float32 in [-1, 1); on the wire and on disk it is little-endian signed 16-bit, scaled by
``PCM16_SCALE`` both ways, so audio from ``wire.audio.decode_audio`` round-trips exactly.
"""

from __future__ import annotations

import io
import wave

import numpy as np

from wire.errors import ErrorKind, WireError

__all__ = ["PCM16_SCALE", "as_float32", "from_pcm16", "from_wav", "is_silent", "to_pcm16", "to_wav"]

PCM16_SCALE = 32768.0  # one convention both ways: int16 / 32768 -> [-1, 1)


def is_silent(audio: np.ndarray, rms_floor: float) -> bool:
    """True when the signal's RMS is below ``rms_floor``: no speech to find, nothing to send a model."""
    return len(audio) == 0 or float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < rms_floor


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian PCM16 (exact for audio from decode_audio)."""
    return np.clip(np.round(audio * PCM16_SCALE), -32768, 32767).astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    """Little-endian PCM16 to float32; invalid_audio on an odd byte count."""
    if len(data) % 2:
        raise WireError(ErrorKind.INVALID_AUDIO, "PCM16 data must have an even number of bytes")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_SCALE


def as_float32(samples: np.ndarray) -> np.ndarray:
    """Float samples as they are; PCM16 samples (e.g. a memory-mapped file) scaled to float32."""
    if samples.dtype == np.float32:
        return samples
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / PCM16_SCALE
    raise TypeError(f"unexpected sample type {samples.dtype}")


def from_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Mono PCM16 WAV bytes (as ``to_wav`` writes them) to float32 samples and their rate."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise WireError(ErrorKind.INVALID_AUDIO, "expected mono PCM16 WAV")
            return from_pcm16(wav.readframes(wav.getnframes())), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        raise WireError(ErrorKind.INVALID_AUDIO, "unreadable WAV") from exc


def to_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """Mono PCM16 WAV bytes of float samples."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(to_pcm16(audio))
    return buf.getvalue()
