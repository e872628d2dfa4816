"""Split long audio into model-sized pieces at its quietest moments.

Whisper sees 30 s at a time. Sending a long file as one request would hold one
worker for minutes and run into TorchServe's responseTimeout; sending pieces lets
TorchServe spread them over workers and batches. Cutting where the signal energy
is lowest keeps words whole. The enhancer, which has no words to keep whole, gets
fixed spans that overlap and are cross-faded back together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Piece", "Span", "crossfade_join", "overlapping_spans", "split_at_quiet"]

FRAME_SEC = 0.1  # energy is measured over frames of this length
SEARCH_FRACTION = 0.4  # look for a cut in the last 40 % of each piece


@dataclass(frozen=True)
class Piece:
    offset_sec: float
    audio: np.ndarray


def split_at_quiet(audio: np.ndarray, sample_rate: int, max_sec: float) -> list[Piece]:
    """Pieces of at most ``max_sec`` that cover ``audio`` exactly, in order."""
    max_len = int(max_sec * sample_rate)
    if len(audio) <= max_len:
        return [Piece(0.0, audio)]
    frame = max(1, int(FRAME_SEC * sample_rate))
    pieces: list[Piece] = []
    start = 0
    while len(audio) - start > max_len:
        lo = start + int(max_len * (1 - SEARCH_FRACTION))
        hi = start + max_len
        window = audio[lo:hi].astype(np.float32)  # float or PCM16 in; squares of int16 would overflow
        n_frames = len(window) // frame
        energy = np.square(window[: n_frames * frame].reshape(n_frames, frame)).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * frame + frame // 2
        pieces.append(Piece(start / sample_rate, audio[start:cut]))
        start = cut
    pieces.append(Piece(start / sample_rate, audio[start:]))
    return pieces


@dataclass(frozen=True)
class Span:
    """Samples [start, stop) of the input a piece covers, overlap included."""

    start: int
    stop: int


def overlapping_spans(length: int, piece: int, overlap: int) -> list[Span]:
    """Spans of at most ``piece`` + ``overlap`` samples covering ``length``, each overlapping the next by ``overlap``."""
    if length <= piece + overlap:
        return [Span(0, length)]
    return [Span(start, min(length, start + piece + overlap)) for start in range(0, length - overlap, piece)]


def crossfade_join(parts: list[np.ndarray], spans: list[Span], length: int) -> np.ndarray:
    """Put processed spans back together; overlaps fade linearly from one piece into the next."""
    out = np.zeros(length, dtype=np.float32)
    for i, (part, span) in enumerate(zip(parts, spans, strict=True)):
        gain = np.ones(span.stop - span.start, dtype=np.float32)
        if i > 0:  # fade in over the overlap with the previous piece
            fade = spans[i - 1].stop - span.start
            gain[:fade] = np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32)
        if i + 1 < len(spans):  # fade out over the overlap with the next one
            fade = span.stop - spans[i + 1].start
            gain[-fade:] *= np.linspace(1.0, 0.0, fade, endpoint=False, dtype=np.float32)
        out[span.start : span.stop] += part[: span.stop - span.start] * gain
    return out
