"""Denoising through the enhancer model: PCM in, PCM16 WAV at the same rate out."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.app.services.torchserve import TorchServeClient
from gateway.core.audio import load_audio, to_pcm16
from gateway.core.config import Settings
from gateway.core.errors import ModelError

__all__ = ["EnhanceOptions", "Enhancer"]


@dataclass(frozen=True)
class EnhanceOptions:
    method: str | None = None  # None: the model's configured default
    atten_lim_db: float | None = None

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in (("method", self.method), ("atten_lim_db", self.atten_lim_db)) if v is not None}


class Enhancer:
    def __init__(self, settings: Settings, client: TorchServeClient) -> None:
        self._model = settings.ENHANCER_MODEL
        self._client = client

    async def enhance_wav(self, audio: np.ndarray, sample_rate: int, options: EnhanceOptions) -> bytes:
        """Denoised audio as mono PCM16 WAV bytes at ``sample_rate``."""
        pcm = await asyncio.to_thread(to_pcm16, audio)
        return await self._client.predict_pcm_bytes(self._model, pcm, sample_rate, options.params())

    async def enhance(self, audio: np.ndarray, sample_rate: int, options: EnhanceOptions) -> np.ndarray:
        """Denoised audio as float32 samples at ``sample_rate``, same length."""
        wav = await self.enhance_wav(audio, sample_rate, options)
        out, rate = await asyncio.to_thread(load_audio, io.BytesIO(wav), None, None)
        if rate != sample_rate:
            raise ModelError("enhancer answered at another sample rate")
        return out
