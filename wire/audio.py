"""The one audio decoder, and the PCM16/WAV conversions, for the gateway and the handlers alike.

Every byte here comes from a stranger, so the decoder
- takes bytes or an open file object, never a path, and lets FFmpeg use only an
  allow-list of real audio/video demuxers: playlists (hls), concat scripts, image
  sequences, tee and the like would open further URLs or files (``format_whitelist``
  refuses them before their header is read, ``protocol_whitelist`` refuses any nested open);
- budgets before work: the declared rate, channels and duration are checked first, and
  decoded seconds are bounded by ``max_seconds`` and by the upload's size (an hour of
  "audio" from 7 KB is a bomb, not a recording);
- decodes packet by packet into one preallocated float32 buffer: a damaged packet is
  skipped and reported in ``warnings``, and a result clearly shorter than the file
  declared is refused (400), a little shorter is served with a warning, never returned as a
  silently truncated recording (what the header declares: ``wire/header_claims.py``, since
  FFmpeg fits a WAV's length to the bytes it finds);
- refuses NaN/Inf samples (they would become full-scale noise).

Samples go through signed 16-bit like faster-whisper's own ``decode_audio``, so the model
sees the very samples an in-process run would, and PCM16 on the wire loses nothing
(the conversions: ``wire/pcm.py``).
These functions block: call them off the event loop.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np

from wire.errors import ErrorKind, WireError
from wire.header_claims import HEAD_BYTES, TAIL_BYTES, HeaderClaim, header_claim
from wire.pcm import PCM16_SCALE

__all__ = [
    "ALLOWED_DEMUXERS",
    "DecodeLimits",
    "DecodedAudio",
    "decode_audio",
    "read_audio_file",
]

# FFmpeg demuxer names (a demuxer is allowed when any of its comma-separated names is here).
ALLOWED_DEMUXERS = (
    "wav",
    "w64",
    "flac",
    "mp3",
    "ogg",
    "matroska",  # also webm
    "mov",  # also mp4, m4a, 3gp
    "aac",
    "aiff",
    "caf",
    "au",
    "amr",
    "wv",
    "asf",  # wma
)
# Nested opens (playlist entries, concat files) go through the protocol allow-list: none is allowed.
_NO_PROTOCOLS = "none"
_FLOAT_FORMATS = frozenset({"flt", "fltp", "dbl", "dblp"})
_ESTIMATED_LENGTH = frozenset({"mp3", "aac"})  # demuxers whose duration is a bitrate estimate


@dataclass(frozen=True)
class DecodeLimits:
    """What one decode may cost; every figure is checked before or while decoding."""

    max_seconds: float
    # Real codecs need more than this per second of audio (Opus at 6 kbit/s: 750 B/s); fewer
    # bytes per declared or decoded second is a decompression bomb (silence, 1 Hz headers).
    min_bytes_per_sec: float = 256.0
    free_seconds: float = 1.0  # allowed whatever the size: tiny clips have proportionally large headers
    min_rate: int = 8000
    max_rate: int = 192000
    max_channels: int = 8
    # A file may end a little before what its header estimates (VBR MP3, encoder padding);
    # more missing than this is a damaged or cut file.
    short_tolerance: float = 0.1
    short_slack_sec: float = 1.0
    # Less missing than the above is served, with a warning once more than this is missing (encoder
    # delay and padding stay under it), so a short result is never silent.
    short_warning_sec: float = 0.1

    def seconds_for(self, size: int) -> float:
        """Most audio seconds an input of ``size`` bytes may decode to."""
        return min(self.max_seconds, self.free_seconds + size / self.min_bytes_per_sec)


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # mono float32 in [-1, 1)
    sample_rate: int
    warnings: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def _invalid(detail: str) -> WireError:
    return WireError(ErrorKind.INVALID_AUDIO, detail)


def _unfinished() -> WireError:
    return _invalid("the file ends before the data its header describes: it is cut or unfinished")


def _too_long(limit: float) -> WireError:
    return WireError(ErrorKind.TOO_LONG, f"audio is longer than {limit:g} s")


def _size_of(source: bytes | BinaryIO) -> tuple[BinaryIO, int]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return io.BytesIO(data), len(data)
    if not hasattr(source, "read") or not hasattr(source, "seek"):
        raise TypeError("decode_audio takes bytes or a seekable binary file object, never a path")
    start = source.tell()
    size = source.seek(0, io.SEEK_END) - start
    source.seek(start)
    return source, size


class _Samples:
    """One float32 buffer, sized from the declared duration and grown (bounded) only if needed."""

    def __init__(self, expected: int, limit: int) -> None:
        self.limit = limit
        self.data = np.empty(max(1, min(expected, limit)), dtype=np.float32)
        self.size = 0

    def add(self, pcm16: np.ndarray) -> bool:
        """Append; False when the limit would be passed."""
        end = self.size + pcm16.size
        if end > self.limit:
            return False
        if end > self.data.size:
            grown = np.empty(min(self.limit, max(end, int(self.data.size * 1.5))), dtype=np.float32)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        np.multiply(pcm16, 1.0 / PCM16_SCALE, out=self.data[self.size : end], casting="unsafe")
        self.size = end
        return True

    def result(self) -> np.ndarray:
        return self.data[: self.size]


def decode_audio(source: bytes | BinaryIO, limits: DecodeLimits, sample_rate: int | None = None) -> DecodedAudio:
    """The first audio stream of ``source`` as mono float32 at ``sample_rate`` (None: its own rate).

    Raises WireError: invalid_audio (refused container, bad header, damaged or cut file,
    non-finite samples, more seconds than the size allows) or too_long (over ``max_seconds``).
    """
    stream_file, size = _size_of(source)
    if size <= 0:
        raise _invalid("empty audio")
    claim = header_claim(*_ends(stream_file, size), size)
    options = {"format_whitelist": ",".join(ALLOWED_DEMUXERS), "protocol_whitelist": _NO_PROTOCOLS}
    try:
        with av.open(stream_file, mode="r", container_options=options, metadata_errors="ignore") as container:
            return _decode(container, size, limits, sample_rate, claim)
    except av.error.ArgumentError as exc:  # format_whitelist refused the probed demuxer
        raise _invalid("unsupported container: send an audio file (wav, flac, mp3, ogg, webm, m4a, ...)") from exc
    except (av.error.FFmpegError, ValueError, IndexError, EOFError) as exc:
        if isinstance(exc, WireError):
            raise
        if claim.cut:  # e.g. an M4A whose index (moov) was to come after the cut
            raise _unfinished() from exc
        raise _invalid("undecodable audio") from exc


def _ends(source: BinaryIO, size: int) -> tuple[bytes, bytes]:
    """The first and last bytes of the upload, for header_claim; the position is left where it was."""
    start = source.tell()
    head = source.read(HEAD_BYTES)
    source.seek(start + max(0, size - TAIL_BYTES))
    tail = source.read(TAIL_BYTES)
    source.seek(start)
    return head, tail


def _decode(
    container: av.container.InputContainer, size: int, limits: DecodeLimits, rate: int | None, claim: HeaderClaim
) -> DecodedAudio:
    stream = _audio_stream(container, limits)
    # FFmpeg fits a WAV's or CAF's duration to the bytes there; the header's own claim is the longer
    declared = max(_declared_seconds(container, stream), claim.seconds)
    budget = _budget(declared, claim, size, limits)
    out_rate = rate or stream.codec_context.sample_rate
    expected = declared * 1.05 + 1.0 if declared else min(budget, 60.0)
    samples = _Samples(math.ceil(expected * out_rate), math.ceil(budget * out_rate))
    skipped, skipped_sec, broke_off = _read(container, stream, samples, out_rate, limits, budget)
    if samples.size == 0:
        raise _unfinished() if claim.cut else _invalid("file holds no audio samples")
    got = samples.size / out_rate
    cut = claim.cut or broke_off
    # Raw MP3/AAC carry no length: FFmpeg guesses it from the first frames' bitrate, which is off for
    # VBR files, so for them only a demuxer that broke off, or an MP3's own frame count, counts.
    # Containers state their length.
    trusted = cut or claim.counted or not _ESTIMATED_LENGTH.intersection(container.format.name.split(","))
    missing = declared - got - skipped_sec if declared and trusted else 0.0
    if missing > _tolerated(declared, limits):
        raise _cut(got, declared)
    warnings: list[str] = []
    if skipped:
        warnings.append(f"skipped {skipped} damaged packet(s), about {skipped_sec:.2f} s of audio")
    if missing > limits.short_warning_sec:
        warnings.append(
            f"only {got:.1f} s of the {declared:.1f} s the file declares could be decoded: part of it is missing or damaged"
        )
    elif cut:
        warnings.append("the container ended early; the audio decoded up to that point is complete")
    return DecodedAudio(samples.result(), out_rate, tuple(warnings))


def _audio_stream(container: av.container.InputContainer, limits: DecodeLimits) -> av.AudioStream:
    """The first audio stream, once its codec, rate and channels pass."""
    if not any(name in ALLOWED_DEMUXERS for name in container.format.name.split(",")):
        raise _invalid("unsupported container")  # belt and braces: format_whitelist already refused it
    if not container.streams.audio:
        raise _invalid("no audio stream in file")
    stream = container.streams.audio[0]
    if stream.codec_context is None:  # the header names a codec this FFmpeg has no decoder for
        raise _invalid("unsupported audio codec: send wav, flac, mp3, ogg, webm, m4a, ...")
    in_rate = int(stream.codec_context.sample_rate or 0)
    if not limits.min_rate <= in_rate <= limits.max_rate:
        raise _invalid(f"sample rate {in_rate} Hz is outside {limits.min_rate}..{limits.max_rate} Hz")
    channels = int(stream.codec_context.channels or 0)
    if not 1 <= channels <= limits.max_channels:
        raise _invalid(f"{channels} channels: at most {limits.max_channels} are accepted")
    return stream


def _budget(declared: float, claim: HeaderClaim, size: int, limits: DecodeLimits) -> float:
    """The most seconds this upload may decode to, once what it declares has passed the limits."""
    if claim.cut and claim.seconds - claim.present > _tolerated(claim.seconds, limits):  # known before decoding
        raise _cut(claim.present, claim.seconds)
    budget = limits.seconds_for(size)
    if declared > limits.max_seconds + limits.short_slack_sec:
        raise _too_long(limits.max_seconds)
    if declared > budget + limits.short_slack_sec:
        raise _invalid(f"the file declares {declared:.0f} s of audio in {size} bytes: refused as a decompression bomb")
    return budget


def _read(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    samples: _Samples,
    rate: int,
    limits: DecodeLimits,
    budget: float,
) -> tuple[int, float, bool]:
    """Decode ``stream`` into ``samples`` packet by packet: (damaged packets skipped, their seconds, whether
    the container broke off)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    skipped, skipped_sec = 0, 0.0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                skipped += 1  # one damaged packet: skip it, as ffmpeg does, and say so
                if packet.duration and packet.time_base:
                    skipped_sec += float(packet.duration * packet.time_base)
                continue
            for frame in frames:
                _check_finite(frame)
                _add(samples, resampler.resample(frame), limits, budget)
        _add(samples, resampler.resample(None), limits, budget)
    except (av.error.InvalidDataError, av.error.EOFError):
        return skipped, skipped_sec, True  # judged by length in _decode
    return skipped, skipped_sec, False


def _tolerated(declared: float, limits: DecodeLimits) -> float:
    """Seconds a file may fall short of what it declares: encoder padding, a VBR estimate; more is a cut."""
    return declared * limits.short_tolerance + limits.short_slack_sec


def _cut(got: float, declared: float) -> WireError:
    return _invalid(f"the file declares {declared:.1f} s of audio and holds only {got:.1f} s: it is damaged or cut")


def _declared_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if container.format.name == "caf" and stream.frames and stream.codec_context.name.startswith("pcm_"):
        return stream.frames / stream.codec_context.sample_rate  # the header's frame count: not fitted to the bytes
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _check_finite(frame: av.AudioFrame) -> None:
    if frame.format.name in _FLOAT_FORMATS and not np.isfinite(frame.to_ndarray()).all():
        raise _invalid("audio holds NaN or infinite samples")


def _add(samples: _Samples, frames: list[av.AudioFrame], limits: DecodeLimits, budget: float) -> None:
    for out in frames:
        if not samples.add(out.to_ndarray().reshape(-1)):
            if budget >= limits.max_seconds:
                raise _too_long(limits.max_seconds)
            raise _invalid(
                f"the file decodes to more than {budget:.0f} s for its size: refused as a decompression bomb"
            )


def read_audio_file(path: str | os.PathLike[str], sample_rate: int | None = None) -> DecodedAudio:
    """A local file an operator chose (tests, benchmarks, the clients), through the same decoder.

    The decoder still gets an open file, not the path, and the usual caps (4 h, any compression).
    """
    with open(path, "rb") as fh:
        return decode_audio(fh, _LOCAL_FILE_LIMITS, sample_rate)


_LOCAL_FILE_LIMITS = DecodeLimits(max_seconds=4 * 3600.0, min_bytes_per_sec=1.0)
