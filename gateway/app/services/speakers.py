"""Speaker verification and enrollment: embeddings from the model, references from the store."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from gateway.app.services.speaker_store import Enrolled, SpeakerInfo, SpeakerStore
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import SAMPLE_RATE, Settings
from gateway.core.errors import ModelError, SpeakerMismatch
from gateway.core.speakers import Verdict, verdict
from wire.audio import to_pcm16

__all__ = ["Speakers"]

log = logging.getLogger(__name__)


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

    async def verify_enrolled(self, tenant: str, probe: np.ndarray, speaker_id: str) -> Verdict:
        # 404 (also for another tenant's speaker) before spending a model call
        reference = await asyncio.to_thread(self.store.reference, tenant, speaker_id)
        return verdict(await self.embed(probe), reference, self._settings.SPEAKER_THRESHOLD)

    async def enroll(
        self, tenant: str, speaker_id: str, audio: np.ndarray, source: str, replace: bool = False
    ) -> Enrolled:
        """Add a sample; one that does not sound like the speaker is refused (409) unless ``replace``.

        Without that check anyone who may enroll could add their own voice to someone else's
        speaker until both pass verification. Every enroll is logged with its request id.
        """
        vector = await self.embed(audio)
        threshold = self._settings.SPEAKER_THRESHOLD
        try:
            done = await asyncio.to_thread(
                self.store.enroll, tenant, speaker_id, vector, source, threshold=threshold, replace=replace
            )
        except SpeakerMismatch as exc:
            log.warning("enroll refused: tenant=%s speaker=%s score=%.3f", tenant, speaker_id, exc.score)
            raise
        log.info(
            "enroll%s: tenant=%s speaker=%s samples=%d score=%s",
            " (replace)" if done.replaced else "",
            tenant,
            speaker_id,
            done.samples,
            "first" if done.score is None else f"{done.score:.3f}",
        )
        return done

    async def list(self, tenant: str) -> list[SpeakerInfo]:
        return await asyncio.to_thread(self.store.list, tenant)

    async def delete(self, tenant: str, speaker_id: str) -> None:
        await asyncio.to_thread(self.store.delete, tenant, speaker_id)
        log.info("speaker deleted: tenant=%s speaker=%s", tenant, speaker_id)
