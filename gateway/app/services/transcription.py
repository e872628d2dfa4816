"""File transcription: decode once, split long audio, fan pieces out to TorchServe, stitch."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from gateway.app.services.enhancement import EnhanceOptions, Enhancer
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.audio import Source, is_silent, load_and_resample, load_audio, to_pcm16
from gateway.core.config import Settings
from gateway.core.pieces import Piece, split_at_quiet
from gateway.core.transcript import merge_pieces

__all__ = ["AudioDecoder", "Transcriber"]


class AudioDecoder:
    """Decodes uploads in worker threads, at most MAX_CONCURRENT_DECODES at once."""

    def __init__(self, settings: Settings) -> None:
        self._rate = settings.SAMPLE_RATE
        self._max_sec = settings.MAX_AUDIO_SEC
        self._slots = asyncio.Semaphore(settings.MAX_CONCURRENT_DECODES)

    async def decode(self, source: Source) -> np.ndarray:
        """Mono float32 at SAMPLE_RATE."""
        async with self._slots:
            return await asyncio.to_thread(load_and_resample, source, self._rate, self._max_sec)

    async def decode_native(self, source: Source, max_seconds: float) -> tuple[np.ndarray, int]:
        """Mono float32 at the file's own rate, and that rate."""
        async with self._slots:
            return await asyncio.to_thread(load_audio, source, None, min(max_seconds, self._max_sec))


class Transcriber:
    def __init__(self, settings: Settings, client: TorchServeClient, enhancer: Enhancer) -> None:
        self._settings = settings
        self._client = client
        self._enhancer = enhancer

    async def transcribe(
        self, audio: np.ndarray, options: dict[str, Any], enhance: EnhanceOptions | None = None
    ) -> dict[str, Any]:
        """Transcribe mono float32 audio at SAMPLE_RATE; ``options`` go to the whisper handler.

        With ``enhance``, each piece is denoised first (pieces keep requests small for both models).
        """
        s = self._settings
        pieces = split_at_quiet(audio, s.SAMPLE_RATE, s.ASR_PIECE_SEC)
        slots = asyncio.Semaphore(s.ASR_MAX_PARALLEL_PIECES)

        async def run(piece: Piece, opts: dict[str, Any]) -> tuple[float, dict[str, Any]]:
            if is_silent(piece.audio, s.SILENCE_RMS):  # Whisper tends to invent a word or two for silence
                return piece.offset_sec, {"segments": [], "language": opts.get("language"), "language_probability": 0.0}
            async with slots:
                samples = piece.audio
                if enhance is not None:
                    samples = await self._enhancer.enhance(samples, s.SAMPLE_RATE, enhance)
                pcm = await asyncio.to_thread(to_pcm16, samples)
                return piece.offset_sec, await self._client.predict_pcm(s.ASR_MODEL, pcm, s.SAMPLE_RATE, opts)

        first = await run(pieces[0], options)
        if options.get("language") is None:
            # Detect once; the rest of the file is decoded in that language.
            options = {**options, "language": first[1].get("language")}
        tasks = [asyncio.create_task(run(p, options)) for p in pieces[1:]]
        try:
            rest = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        return merge_pieces([first, *rest], duration=len(audio) / s.SAMPLE_RATE)
