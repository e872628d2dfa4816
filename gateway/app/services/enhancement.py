"""Denoising through the enhancer model: PCM in, PCM16 WAV at the same rate out.

Audio goes to the model in spans of at most ENHANCE_PIECE_SEC (plus a short overlap,
cross-faded back together), so any length up to ENHANCE_MAX_SEC at any rate fits
TorchServe's body cap and no single request holds a worker for minutes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.app.services.audio_budget import AudioBudget
from gateway.app.services.fanout import run_all
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import Settings
from gateway.core.errors import ModelError
from gateway.core.pieces import crossfade_join, overlapping_spans
from wire.errors import WireError
from wire.pcm import from_wav, to_pcm16, to_wav

__all__ = ["EnhanceOptions", "Enhancer"]

_OVERLAP_SEC = 0.5  # the network's state settles within this; the seam is cross-faded over it


@dataclass(frozen=True)
class EnhanceOptions:
    method: str | None = None  # None: the model's configured default
    atten_lim_db: float | None = None

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in (("method", self.method), ("atten_lim_db", self.atten_lim_db)) if v is not None}


class Enhancer:
    def __init__(self, settings: Settings, client: TorchServeClient, budget: AudioBudget) -> None:
        self._model = settings.ENHANCER_MODEL
        self._piece_sec = settings.ENHANCE_PIECE_SEC
        self._parallel = settings.ASR_MAX_PARALLEL_PIECES
        self._client = client
        self._budget = budget

    async def enhance_wav(self, audio: np.ndarray, sample_rate: int, options: EnhanceOptions) -> bytes:
        """Denoised audio as mono PCM16 WAV bytes at ``sample_rate`` (a whole request: admitted by length)."""
        async with self._budget.hold(len(audio) / sample_rate):
            out = await self.enhance(audio, sample_rate, options)
        return await asyncio.to_thread(to_wav, out, sample_rate)

    async def enhance(self, audio: np.ndarray, sample_rate: int, options: EnhanceOptions) -> np.ndarray:
        """Denoised audio as float32 samples at ``sample_rate``, same length."""
        spans = overlapping_spans(len(audio), int(self._piece_sec * sample_rate), int(_OVERLAP_SEC * sample_rate))
        slots = asyncio.Semaphore(self._parallel)

        async def run(start: int, stop: int) -> np.ndarray:
            async with slots:
                pcm = await asyncio.to_thread(to_pcm16, audio[start:stop])
                wav = await self._client.predict_pcm_bytes(self._model, pcm, sample_rate, options.params())
            try:
                out, rate = await asyncio.to_thread(from_wav, wav)
            except WireError as exc:
                raise ModelError("enhancer sent an unreadable WAV") from exc
            if rate != sample_rate or len(out) != stop - start:
                raise ModelError("enhancer answered with another rate or length")
            return out

        if len(spans) == 1:
            return await run(0, len(audio))
        parts = await run_all(run(span.start, span.stop) for span in spans)
        return crossfade_join(parts, spans, len(audio))
