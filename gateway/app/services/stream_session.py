"""One live /ws/asr stream: PCM16 in, hypotheses from TorchServe, committed/tentative text out.

The model server is stateless; this object holds the stream's state (a
StreamTranscript) and turns audio into model requests. It never queues decodes:
while one runs, audio keeps arriving and the next decode simply takes the newest
window, so a slow model gives fewer, larger updates instead of a growing backlog.
Each decode covers at most ASR_WINDOW_SEC of audio, so its cost is bounded.
"""

from __future__ import annotations

import asyncio

import numpy as np
import soxr

from gateway.app.services.stream_speakers import StreamSpeakers
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import SAMPLE_RATE, Settings
from gateway.core.local_agreement import Snapshot, StreamTranscript
from wire.options import MAX_NEW_TOKENS_LIMIT, DecodeOptions
from wire.pcm import from_pcm16, is_silent, to_pcm16

__all__ = ["StreamSession"]


class StreamSession:
    def __init__(
        self,
        settings: Settings,
        client: TorchServeClient,
        language: str | None,
        sample_rate: int,
        speakers: StreamSpeakers | None = None,
        hotwords: str | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self.language = language
        self.speakers = speakers  # with diarize=true: who spoke when, in the final message
        self.hotwords = hotwords
        self.state = StreamTranscript(SAMPLE_RATE, settings.ASR_WINDOW_SEC, settings.STREAM_TRIM_SEC)
        self._resampler = (
            None
            if sample_rate == SAMPLE_RATE
            else soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        )

    # Audio ----------------------------------------------------------------------
    def feed(self, pcm16: bytes) -> None:
        """Add PCM16 mono LE at the stream's rate (raises InvalidAudio on an odd byte count)."""
        samples = from_pcm16(pcm16)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        if self.speakers is not None:
            self.speakers.record(samples)
        self.state.append(samples)

    @property
    def backlogged(self) -> bool:
        """More undecoded audio than STREAM_MAX_BUFFER_SEC: the reader should wait for the decoder."""
        return self.state.buffer_sec > self._settings.STREAM_MAX_BUFFER_SEC

    def end_of_audio(self) -> None:
        if self._resampler is not None:
            rest = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if self.speakers is not None:
                self.speakers.record(rest)
            self.state.append(rest)

    @property
    def received_sec(self) -> float:
        return self.state.received_sec

    # Decoding -------------------------------------------------------------------
    async def partial(self) -> Snapshot:
        return self.state.update(await self._hypothesis(partial=True))

    async def final(self) -> Snapshot:
        """Decode what is left (window by window when a backlog remains) and commit all of it."""
        self.end_of_audio()
        while self.state.buffer_sec > self._settings.ASR_WINDOW_SEC:
            self.state.update(await self._hypothesis())
        return self.state.finish(await self._hypothesis())

    async def _hypothesis(self, partial: bool = False) -> list[tuple[float, float, str]]:
        s = self._settings
        audio = self.state.buffer[: int(s.ASR_WINDOW_SEC * SAMPLE_RATE)].copy()
        if len(audio) < SAMPLE_RATE * 0.3 or is_silent(audio, s.SILENCE_RMS):
            return []  # too short or too quiet to hold speech: no model call, no words
        pcm = await asyncio.to_thread(to_pcm16, audio)
        options = DecodeOptions(
            language=self.language,
            beam_size=s.STREAM_BEAM_SIZE,
            word_timestamps=True,
            vad_filter=True,
            # One greedy-or-beam pass, no temperature-fallback ladder: a window cut mid-word can
            # otherwise trigger up to six re-decodes and stall the stream for many seconds.
            temperature=0.0,
            fit_window=s.STREAM_FIT_WINDOW,
            # Whisper sometimes loops ("I'm sorry, I'm sorry, ...") on a window cut mid-word; without a
            # cap one such decode runs to 448 tokens and stalls the stream for seconds.
            max_new_tokens=min(MAX_NEW_TOKENS_LIMIT, int(16 + s.STREAM_TOKENS_PER_SEC * len(audio) / SAMPLE_RATE)),
            initial_prompt=self.state.prompt(),
            hotwords=self.hotwords,
            # A partial leaves a short tail after Whisper's last timestamp (usually a word still being
            # spoken) to the next update instead of decoding it as a window of its own; the final
            # decode takes everything.
            skip_tail_sec=s.STREAM_SKIP_TAIL_SEC if partial else None,
        )
        result = await self._client.transcribe(s.ASR_MODEL, pcm, SAMPLE_RATE, options.to_params())
        if self.language is None and result.language:
            self.language = result.language  # detect once, then stay with it
        return [
            (w.start, w.end, w.word)
            for seg in result.segments
            if not seg.looks_hallucinated(s.STREAM_NO_SPEECH_PROB)
            for w in seg.words or []
        ]
