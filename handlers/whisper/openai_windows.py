"""faster-whisper's cut of a decoded 30 s window, for the openai-whisper engine (``openai_engine.py``).

Kept apart from the engine so the cut can be tested on constructed tokens without a model.
"""

from __future__ import annotations

from typing import Any

from wire.transcript import Segment

__all__ = ["FRAMES_PER_SEC", "WINDOW_FRAMES", "cut_window", "window_features"]

FRAMES_PER_SEC = 100  # mel frames
WINDOW_FRAMES = 30 * FRAMES_PER_SEC
_SEC_PER_TIMESTAMP = 0.02


def window_features(features: Any, seek: int) -> Any:
    """30 s of features from ``seek``, padded with zero frames as faster-whisper pads them."""
    from whisper.audio import pad_or_trim

    return pad_or_trim(features[:, seek : seek + WINDOW_FRAMES], WINDOW_FRAMES)


def cut_window(result: Any, tokenizer: Any, seek: int, size: int) -> tuple[list[Segment], int, bool]:
    """One window's segments, where the next window starts, and whether the window ended on one timestamp.

    faster-whisper's cut: a segment between each pair of consecutive timestamp tokens; text after the
    last pair is unfinished unless a single timestamp ends the window, and the next window starts at
    that last pair. Empty segments are dropped, as faster-whisper drops them.
    """
    tokens = [t for t in result.tokens if t < tokenizer.eot or t >= tokenizer.timestamp_begin]
    begin = tokenizer.timestamp_begin
    offset = seek / FRAMES_PER_SEC
    single_ending = len(tokens) >= 2 and tokens[-2] < begin <= tokens[-1]
    pairs = [i for i in range(1, len(tokens)) if tokens[i] >= begin and tokens[i - 1] >= begin]
    spans: list[tuple[list[int], float, float]] = []
    if pairs:
        cuts = [*pairs, len(tokens)] if single_ending else pairs
        last = 0
        for cut in cuts:
            piece = tokens[last:cut]
            spans.append(
                (
                    piece,
                    offset + (piece[0] - begin) * _SEC_PER_TIMESTAMP,
                    offset + (piece[-1] - begin) * _SEC_PER_TIMESTAMP,
                )
            )
            last = cut
        next_seek = seek + size if single_ending else seek + (tokens[last - 1] - begin) * 2  # 2 frames per timestamp
    else:
        stamps = [t for t in tokens if t >= begin]
        length = (stamps[-1] - begin) * _SEC_PER_TIMESTAMP if stamps and stamps[-1] != begin else size / FRAMES_PER_SEC
        spans.append((tokens, offset, offset + length))
        next_seek = seek + size
    segments = []
    for piece, start, end in spans:
        text = tokenizer.decode([t for t in piece if t < tokenizer.eot])
        if start == end or not text.strip():
            continue
        segments.append(
            Segment(
                id=0,
                seek=seek,
                start=round(start, 3),
                end=round(end, 3),
                text=text,
                avg_logprob=round(float(result.avg_logprob), 4),
                no_speech_prob=round(float(result.no_speech_prob), 4),
                tokens=[int(t) for t in piece],
                temperature=float(result.temperature),
                compression_ratio=round(float(result.compression_ratio), 4),
            )
        )
    return segments, next_seek, single_ending
