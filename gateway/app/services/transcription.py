"""File transcription: decode once, split long audio, fan pieces out to TorchServe, stitch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import BinaryIO

from gateway.app.services.audio_budget import AudioBudget
from gateway.app.services.enhancement import EnhanceOptions, Enhancer
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import SAMPLE_RATE, Settings
from gateway.core.pieces import Piece, split_at_quiet
from gateway.core.transcript import merge_pieces, silent_piece
from wire.audio import DecodedAudio, DecodeLimits, decode_audio
from wire.options import DecodeOptions
from wire.pcm import as_float32, is_silent, to_pcm16
from wire.transcript import Transcription

__all__ = ["AudioDecoder", "Transcriber"]


class AudioDecoder:
    """Decodes uploads in worker threads, at most MAX_CONCURRENT_DECODES at once, within the decode budget."""

    def __init__(self, settings: Settings) -> None:
        self._max_sec = settings.MAX_AUDIO_SEC
        self._min_bytes_per_sec = settings.MIN_BYTES_PER_AUDIO_SEC
        self._slots = asyncio.Semaphore(settings.MAX_CONCURRENT_DECODES)

    def limits(self, max_seconds: float | None = None) -> DecodeLimits:
        cap = self._max_sec if max_seconds is None else min(max_seconds, self._max_sec)
        return DecodeLimits(max_seconds=cap, min_bytes_per_sec=self._min_bytes_per_sec)

    async def decode(self, source: BinaryIO) -> DecodedAudio:
        """Mono float32 at the models' SAMPLE_RATE."""
        async with self._slots:
            return await asyncio.to_thread(decode_audio, source, self.limits(), SAMPLE_RATE)

    async def decode_native(self, source: BinaryIO, max_seconds: float) -> DecodedAudio:
        """Mono float32 at the file's own rate."""
        async with self._slots:
            return await asyncio.to_thread(decode_audio, source, self.limits(max_seconds), None)


class Transcriber:
    def __init__(self, settings: Settings, client: TorchServeClient, enhancer: Enhancer, budget: AudioBudget) -> None:
        self._settings = settings
        self._client = client
        self._enhancer = enhancer
        self._budget = budget

    async def transcribe(
        self, audio: DecodedAudio, options: DecodeOptions, enhance: EnhanceOptions | None = None
    ) -> Transcription:
        """Transcribe decoded audio at SAMPLE_RATE; with ``enhance``, each piece is denoised first."""
        done = [piece async for piece in self.pieces(audio, options, enhance)]
        return merge_pieces(done, duration=audio.seconds, warnings=audio.warnings)

    async def pieces(
        self,
        audio: DecodedAudio,
        options: DecodeOptions,
        enhance: EnhanceOptions | None = None,
        start: int = 0,
        first_alone: bool = False,
    ) -> AsyncIterator[tuple[float, Transcription]]:
        """(offset, result) of each piece, in order, each as soon as it and those before it are done.

        Pieces go out together, at most ASR_MAX_PARALLEL_PIECES at a time; only language
        detection sends the first piece alone (its language then holds for the rest). When the
        consumer stops (the caller went away), pieces not yet sent never are. ``start`` skips the
        pieces already done (a resumed job): the cut points depend on the audio alone, so they
        fall where they fell before. ``audio.samples`` may be PCM16 (a job's memory-mapped audio).
        ``first_alone`` sends the first piece on its own even when the language is known, so its
        text comes back after one piece's time, not a whole batch's (streamed answers want that).
        """
        s = self._settings
        pieces = split_at_quiet(audio.samples, SAMPLE_RATE, s.ASR_PIECE_SEC)[start:]
        if not pieces:
            return
        slots = asyncio.Semaphore(s.ASR_MAX_PARALLEL_PIECES)

        async def run(piece: Piece, opts: DecodeOptions) -> tuple[float, Transcription]:
            duration = len(piece.audio) / SAMPLE_RATE
            async with slots:
                # only the pieces in flight as floats: a job's memory-mapped PCM16 is never whole as floats
                samples = as_float32(piece.audio)
                if is_silent(samples, s.SILENCE_RMS):  # Whisper tends to invent a word or two for silence
                    return piece.offset_sec, silent_piece(duration, opts.language, opts.task)
                if enhance is not None:
                    samples = await self._enhancer.enhance(samples, SAMPLE_RATE, enhance)
                pcm = await asyncio.to_thread(to_pcm16, samples)
                return piece.offset_sec, await self._client.transcribe(s.ASR_MODEL, pcm, SAMPLE_RATE, opts.to_params())

        async with self._budget.hold(sum(len(p.audio) for p in pieces) / SAMPLE_RATE):
            rest = pieces
            if options.language is None or first_alone:
                first = await run(pieces[0], options)
                yield first
                language = first[1].language
                options = options if language is None else replace(options, language=language)
                rest = pieces[1:]
            tasks = [asyncio.create_task(run(p, options)) for p in rest]
            try:
                for task in tasks:  # in order: a later piece may finish first, it waits its turn
                    yield await task
            finally:
                # the consumer stopped or a piece failed: nothing else is sent for this request
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
