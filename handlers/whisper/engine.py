"""faster-whisper's WhisperModel with two additions that keep its decoding logic intact.

- A fitted encoder window: faster-whisper always pads the mel features to 30 s, while
  CTranslate2's encoder accepts fewer frames; ``limit_frames`` (per calling thread, since a
  batch's clips run on worker threads) encodes only the audio plus padding.
- Batched first windows: ``encode`` and ``generate_with_fallback`` pick up what
  ``first_window.prefetch`` decoded for the whole batch at once, when the window and prompt are
  the ones prepared; anything else (and a decoding that needs the temperature fallback) runs as
  faster-whisper runs it.
- Skipped tails: ``skip_tail`` (per calling thread) stops a transcription before it encodes a
  later window with less audio than asked; ``transcribe`` then ends with the windows decoded so far.
- A loop guard for capped greedy decodes (``loop_guard.py``): half the token budget first; a
  decoding that has not ended by then and already repeats itself stops there.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from handlers.whisper.first_window import FirstWindows, Prepared, window_key
from handlers.whisper.loop_guard import guarded_generate

__all__ = ["TailSkipped", "content_frames", "engine_class"]


class TailSkipped(Exception):
    """The next window holds less audio than the request's ``skip_tail_sec``: stop before it."""


def content_frames(window: np.ndarray) -> int:
    """Mel frames of audio in an encoder window, before faster-whisper's zero padding.

    Padding is exactly 0.0 in every mel bin; a frame of real audio never is (log-mel values are
    clamped to within 8 of the loudest and then shifted, so even digital silence is about -1.5).
    """
    frames = window.reshape(-1, window.shape[-1])
    filled = np.flatnonzero(np.any(frames != 0.0, axis=0))
    return int(filled[-1]) + 1 if filled.size else 0


def engine_class() -> Any:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import get_compression_ratio

    class BatchingWhisper(WhisperModel):  # type: ignore[misc]
        _local = threading.local()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.first_windows = FirstWindows()

        def limit_frames(self, frames: int | None) -> None:
            self._local.frames = frames

        def skip_tail(self, frames: int) -> None:
            """From this thread's next transcription on: no later window with fewer audio frames."""
            self._local.skip_tail_frames = frames
            self._local.encoded = False

        def encode(self, features: np.ndarray) -> Any:
            frames = getattr(self._local, "frames", None)
            self._local.prepared = None
            if getattr(self._local, "skip_tail_frames", 0):
                if self._local.encoded and content_frames(features) < self._local.skip_tail_frames:
                    raise TailSkipped
                self._local.encoded = True
            if self.first_windows:
                window = features[0] if features.ndim == 3 else features
                prepared = self.first_windows.take(window_key(window, frames))
                if prepared is not None:
                    self._local.prepared = prepared
                    return prepared.encoder_output
            if frames:
                features = np.ascontiguousarray(features[..., :frames])
            return super().encode(features)

        def generate_with_fallback(self, encoder_output: Any, prompt: list[int], tokenizer: Any, options: Any) -> Any:
            prepared: Prepared | None = getattr(self._local, "prepared", None)
            self._local.prepared = None
            if prepared is not None and encoder_output is prepared.encoder_output and prompt == prepared.prompt:
                decoded = _first_temperature(prepared.result, tokenizer, options, get_compression_ratio)
                if decoded is not None:
                    return decoded
            return guarded_generate(
                super().generate_with_fallback, encoder_output, prompt, tokenizer, options, get_compression_ratio
            )

    return BatchingWhisper


def _first_temperature(result: Any, tokenizer: Any, options: Any, compression: Any) -> tuple[Any, ...] | None:
    """faster-whisper's verdict on a decoding at its first temperature: the accepted tuple, or None
    when it would go on down the fallback ladder (then the ordinary path runs it all)."""
    temperature = options.temperatures[0]
    tokens = result.sequences_ids[0]
    avg_logprob = result.scores[0] * (len(tokens) ** options.length_penalty) / (len(tokens) + 1)
    ratio = compression(tokenizer.decode(tokens).strip())
    fallback = options.compression_ratio_threshold is not None and ratio > options.compression_ratio_threshold
    low = options.log_prob_threshold is not None and avg_logprob < options.log_prob_threshold
    silence = options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold
    if (fallback or low) and not (silence and low) and len(options.temperatures) > 1:
        return None
    return result, avg_logprob, temperature, ratio
