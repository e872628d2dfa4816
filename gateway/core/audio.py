"""Decode any audio container to mono float32 at one sample rate, with PyAV.

PyAV links FFmpeg's own demuxers, decoders and resampler (swresample), so wav,
flac, mp3, ogg/opus, webm and m4a all decode without a system ffmpeg and without
torchaudio. The conversion goes through signed 16-bit like faster-whisper's own
``decode_audio``, so the gateway hands the model the very samples an in-process
run would see, and PCM16 on the wire to TorchServe loses nothing.

These functions block: call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import os
import wave
from typing import BinaryIO

import av
import numpy as np

from gateway.core.errors import AudioTooLong, InvalidAudio

__all__ = ["from_pcm16", "is_silent", "load_and_resample", "load_audio", "to_pcm16", "to_wav"]

Source = str | os.PathLike[str] | BinaryIO


def load_and_resample(source: Source, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Return the first audio stream of ``source`` as mono float32 in [-1, 1) at ``sample_rate``.

    Raises InvalidAudio for empty or undecodable input, and AudioTooLong as soon as
    more than ``max_seconds`` have been decoded.
    """
    return load_audio(source, sample_rate, max_seconds)[0]


def load_audio(
    source: Source, sample_rate: int | None = None, max_seconds: float | None = None
) -> tuple[np.ndarray, int]:
    """Like load_and_resample, with ``sample_rate=None`` keeping the file's own rate; returns (audio, rate)."""
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(source, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidAudio("no audio stream in file")
            stream = container.streams.audio[0]
            rate = sample_rate or stream.rate
            if not rate:
                raise InvalidAudio("audio stream has no sample rate")
            limit = None if max_seconds is None else int(max_seconds * rate)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            if max_seconds is not None and declared > max_seconds + 1:  # the header says so: fail before decoding
                raise AudioTooLong(f"audio is longer than {max_seconds:g} s")
            frames = container.decode(stream)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    frame = None
                except av.error.InvalidDataError:
                    continue  # skip a damaged frame, as ffmpeg does
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    chunks.append(samples)
                    total += samples.size
                if limit is not None and total > limit:
                    raise AudioTooLong(f"audio is longer than {max_seconds:g} s")
                if frame is None:
                    break
    except (av.error.FFmpegError, ValueError, IndexError, EOFError) as exc:
        raise InvalidAudio("could not decode audio: unsupported or corrupt file") from exc
    if total == 0:
        raise InvalidAudio("file holds no audio samples")
    return np.concatenate(chunks).astype(np.float32) / 32768.0, rate


def is_silent(audio: np.ndarray, rms_floor: float) -> bool:
    """True when the signal's RMS is below ``rms_floor``: no speech to find, nothing to send a model."""
    return len(audio) == 0 or float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < rms_floor


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian PCM16 (exact for audio from load_and_resample)."""
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype("<i2").tobytes()


def to_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """Mono PCM16 WAV bytes of float samples."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(to_pcm16(audio))
    return buf.getvalue()


def from_pcm16(data: bytes) -> np.ndarray:
    if len(data) % 2:
        raise InvalidAudio("PCM16 data must have an even number of bytes")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
