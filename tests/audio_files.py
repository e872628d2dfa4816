"""Audio files built on the fly for tests: encoded clips, and the hostile files of the untrusted-input tests."""

from __future__ import annotations

import io
import struct
import wave
from fractions import Fraction

import av
import numpy as np

SR = 16000


def encode(
    audio: np.ndarray,
    container: str,
    codec: str,
    rate: int = SR,
    options: dict[str, str] | None = None,
    start: float = 0.0,
) -> bytes:
    """16 kHz float samples encoded with PyAV into ``container``/``codec`` at ``rate`` (``options``: the muxer's),
    the first sample at ``start`` seconds. FFmpeg's own Vorbis encoder writes only stereo (the channel twice)."""
    buf = io.BytesIO()
    layout = "stereo" if codec == "vorbis" else "mono"
    pcm = (audio * 32767).astype(np.int16)[None, :]
    if layout == "stereo":
        pcm = np.repeat(pcm, 2, axis=1)  # packed s16: left and right interleaved
    with av.open(buf, mode="w", format=container, options=options or {}) as out:
        # FFmpeg's Vorbis encoder is marked experimental, so it asks for the flag
        stream = out.add_stream(codec, rate=rate, layout=layout, options={"strict": "experimental"})
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        frame.sample_rate = SR
        frame.pts, frame.time_base = round(start * SR), Fraction(1, SR)  # without one, Ogg pages get wrong positions
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def pcm16_wav(rate: int, samples: np.ndarray) -> bytes:
    """A mono PCM16 WAV whose header says ``rate``, whatever the samples are."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def unknown_codec_wav() -> bytes:
    """A PCM16 WAV whose format tag (0x7777) names no codec FFmpeg can decode: PyAV gives it no codec context."""
    data = bytearray(pcm16_wav(SR, np.zeros(SR, np.int16)))
    data[20:22] = (0x7777).to_bytes(2, "little")
    return bytes(data)


def silent_flac(seconds: int) -> bytes:
    """``seconds`` of digital silence as FLAC: about 180 bytes per second."""
    return encode(np.zeros(seconds * SR, np.float32), "flac", "flac")


def float_wav(samples: np.ndarray) -> bytes:
    """An IEEE-float WAV (16 kHz mono), which can carry NaN and infinities."""
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, SR, SR * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body
