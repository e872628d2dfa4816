"""Speaker verification and enrollment: embeddings from the model, references from the store."""

from __future__ import annotations

import asyncio

import numpy as np

from gateway.app.services.speaker_store import SpeakerInfo, SpeakerStore
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import SAMPLE_RATE, Settings
from gateway.core.errors import ModelError
from gateway.core.speakers import Verdict, verdict
from wire.audio import to_pcm16

__all__ = ["Speakers"]


class Speakers:
    def __init__(self, settings: Settings, client: TorchServeClient, store: SpeakerStore) -> None:
        self._settings = settings
        self._client = client
        self.store = store

    async def embed(self, audio: np.ndarray) -> np.ndarray:
        """Unit 256-d embedding of 16 kHz mono audio (400 from the model when there is no speech).

        A voice is characterised long before SPEAKER_MAX_AUDIO_SEC: longer clips are cut there,
        which also keeps the request under TorchServe's body cap.
        """
        audio = audio[: int(self._settings.SPEAKER_MAX_AUDIO_SEC * SAMPLE_RATE)]
        pcm = await asyncio.to_thread(to_pcm16, audio)
        result = await self._client.predict_pcm(self._settings.SPEAKER_MODEL, pcm, SAMPLE_RATE, {})
        vector = np.asarray(result.get("embedding", []), dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0:
            raise ModelError("speaker model sent no embedding")
        return vector

    async def verify_pair(self, probe: np.ndarray, reference: np.ndarray) -> Verdict:
        a, b = await asyncio.gather(self.embed(probe), self.embed(reference))
        return verdict(a, b, self._settings.SPEAKER_THRESHOLD)

    async def verify_enrolled(self, probe: np.ndarray, speaker_id: str) -> Verdict:
        reference = await asyncio.to_thread(self.store.reference, speaker_id)  # 404 before spending a model call
        return verdict(await self.embed(probe), reference, self._settings.SPEAKER_THRESHOLD)

    async def enroll(self, speaker_id: str, audio: np.ndarray, source: str) -> int:
        vector = await self.embed(audio)
        return await asyncio.to_thread(self.store.enroll, speaker_id, vector, source)

    async def list(self) -> list[SpeakerInfo]:
        return await asyncio.to_thread(self.store.list)

    async def delete(self, speaker_id: str) -> None:
        await asyncio.to_thread(self.store.delete, speaker_id)
