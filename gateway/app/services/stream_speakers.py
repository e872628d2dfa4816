"""Who spoke when in a live stream (/ws/asr?diarize=true): the stream's audio kept, diarized at the end.

Clustering needs every voice of the stream, so the audio is kept (as PCM16, 115 MB an hour) up to
STREAM_DIARIZE_MAX_SEC; a longer diarized stream is closed with a clear error. The final message then
carries the committed words grouped into turns, each with its speaker. Partials stay unlabelled.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from gateway.app.services.diarization import DiarizeOptions, Diarizer
from gateway.core.config import SAMPLE_RATE
from gateway.core.diarization import speaker_at
from gateway.core.errors import InvalidRequest
from gateway.core.local_agreement import StreamTranscript
from wire.pcm import PCM16_SCALE

__all__ = ["StreamSpeakers"]


class StreamSpeakers:
    def __init__(self, diarizer: Diarizer, tenant: str, options: DiarizeOptions, max_sec: float) -> None:
        self._diarizer = diarizer
        self._tenant = tenant
        self._options = options
        self._max_samples = int(max_sec * SAMPLE_RATE)
        self._chunks: list[np.ndarray] = []
        self._size = 0

    def record(self, samples: np.ndarray) -> None:
        """Keep the stream's 16 kHz audio (InvalidRequest past the cap: the stream ends with 1008)."""
        if self._size + len(samples) > self._max_samples:
            raise InvalidRequest(
                f"a diarized stream may last {self._max_samples / SAMPLE_RATE:g} s (STREAM_DIARIZE_MAX_SEC)"
            )
        self._chunks.append(np.clip(np.round(samples * PCM16_SCALE), -32768, 32767).astype(np.int16))
        self._size += len(samples)

    async def final_fields(self, transcript: StreamTranscript) -> dict[str, Any]:
        """``segments`` (start, end, speaker, text) and ``speakers`` for the final message."""
        if not self._chunks:
            return {"segments": [], "speakers": []}
        audio = await asyncio.to_thread(_joined, self._chunks)  # up to 30 min of audio: off the event loop
        who = await self._diarizer.diarize(self._tenant, audio, self._options)
        segments: list[dict[str, Any]] = []
        for word in transcript.committed:
            speaker = who.label_of(speaker_at(who.turns, word.start, word.end))
            if segments and segments[-1]["speaker"] == speaker:
                segments[-1]["end"] = word.end
                segments[-1]["text"] += word.text
            else:
                segments.append({"start": word.start, "end": word.end, "speaker": speaker, "text": word.text})
        for segment in segments:
            segment["text"] = segment["text"].strip()
        speakers = [
            {"label": s.label, "speaker_id": s.speaker_id, "score": s.score, "speech_sec": s.speech_sec}
            for s in who.speakers
        ]
        return {"segments": segments, "speakers": speakers}


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(chunks).astype(np.float32) / PCM16_SCALE
