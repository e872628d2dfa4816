"""Split long audio into model-sized pieces at its quietest moments.

Whisper sees 30 s at a time. Sending a long file as one request would hold one
worker for minutes and run into TorchServe's responseTimeout; sending pieces lets
TorchServe spread them over workers and batches. Cutting where the signal energy
is lowest keeps words whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Piece", "split_at_quiet"]

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
        window = audio[lo:hi]
        n_frames = len(window) // frame
        energy = np.square(window[: n_frames * frame].reshape(n_frames, frame)).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * frame + frame // 2
        pieces.append(Piece(start / sample_rate, audio[start:cut]))
        start = cut
    pieces.append(Piece(start / sample_rate, audio[start:]))
    return pieces
