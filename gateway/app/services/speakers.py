"""Speaker verification and enrollment: embeddings from the model, references from the store."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from gateway.app.services.fanout import run_all
from gateway.app.services.speaker_store import Enrolled, SpeakerInfo, SpeakerStore
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import SAMPLE_RATE, Settings
from gateway.core.errors import ModelError, SpeakerMismatch
from gateway.core.speakers import Verdict, verdict
from wire.pcm import to_pcm16

__all__ = ["Speakers"]

log = logging.getLogger(__name__)


class Speakers:
    def __init__(self, settings: Settings, client: TorchServeClient, store: SpeakerStore) -> None:
        self._settings = settings
        self._client = client
        self.store = store

    async def embed(self, audio: np.ndarray) -> np.ndarray:
        """Unit 256-d embedding of 16 kHz mono audio (400 from the model when there is no speech)."""
        return (await self.embed_voiced(audio))[0]

    async def embed_voiced(self, audio: np.ndarray) -> tuple[np.ndarray, float]:
        """The embedding and how many seconds of voice it was made from.

        A voice is characterised long before SPEAKER_MAX_AUDIO_SEC: longer clips are cut there,
        which also keeps the request under TorchServe's body cap.
        """
        audio = audio[: int(self._settings.SPEAKER_MAX_AUDIO_SEC * SAMPLE_RATE)]
        pcm = await asyncio.to_thread(to_pcm16, audio)
        result = await self._client.predict_pcm(self._settings.SPEAKER_MODEL, pcm, SAMPLE_RATE, {})
        vector = np.asarray(result.get("embedding", []), dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0:
            raise ModelError("speaker model sent no embedding")
        return vector, float(result.get("voiced_sec", 0.0))

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

    async def references(self, tenant: str, speaker_ids: list[str] | None) -> dict[str, np.ndarray]:
        """Enrolled references by id: the named ones (404 naming an unknown one), or all (None)."""
        if speaker_ids is None:
            speaker_ids = [info.speaker_id for info in await self.list(tenant)]
        found: dict[str, np.ndarray] = {}
        for speaker_id in speaker_ids:
            found[speaker_id] = await asyncio.to_thread(self.store.reference, tenant, speaker_id)
        return found

    async def identify(self, tenant: str, probe: np.ndarray, candidates: list[str] | None) -> list[tuple[str, float]]:
        """Enrolled speakers ranked by their score against the probe (1:N, open set: the caller applies the threshold)."""
        references = await self.references(tenant, candidates)  # 404 before spending a model call
        if not references:
            return []
        vector = await self.embed(probe)
        return sorted(((sid, verdict(vector, ref, 0.0).score) for sid, ref in references.items()), key=lambda p: -p[1])

    async def embed_spans(self, audio: np.ndarray, spans: list[tuple[float, float]]) -> list[np.ndarray | None]:
        """One embedding (or None: too little voice) per span of ``audio``, a model call per piece of the audio."""
        piece_sec = self._settings.SPEAKER_MAX_AUDIO_SEC
        pieces: dict[int, list[int]] = {}
        for i, (start, _) in enumerate(spans):
            pieces.setdefault(int(start // piece_sec), []).append(i)
        slots = asyncio.Semaphore(self._settings.ASR_MAX_PARALLEL_PIECES)
        found: list[np.ndarray | None] = [None] * len(spans)

        async def run(k: int, members: list[int]) -> None:
            offset = k * piece_sec
            end = max(spans[i][1] for i in members)
            chunk = audio[int(offset * SAMPLE_RATE) : int(np.ceil(end * SAMPLE_RATE))]
            local = [
                [round(spans[i][0] - offset, 3), round(min(spans[i][1] - offset, len(chunk) / SAMPLE_RATE), 3)]
                for i in members
            ]
            async with slots:
                pcm = await asyncio.to_thread(to_pcm16, chunk)
                answer = await self._client.predict_pcm(
                    self._settings.SPEAKER_MODEL, pcm, SAMPLE_RATE, {"spans": local}
                )
            results = answer.get("spans")
            if not isinstance(results, list) or len(results) != len(members):
                raise ModelError("speaker model sent no span embeddings")
            for i, result in zip(members, results, strict=True):
                vector = result.get("embedding") if isinstance(result, dict) else None
                found[i] = None if vector is None else np.asarray(vector, dtype=np.float32)

        await run_all(run(k, members) for k, members in pieces.items())
        return found

    async def list(self, tenant: str) -> list[SpeakerInfo]:
        return await asyncio.to_thread(self.store.list, tenant)

    async def delete(self, tenant: str, speaker_id: str) -> None:
        await asyncio.to_thread(self.store.delete, tenant, speaker_id)
        log.info("speaker deleted: tenant=%s speaker=%s", tenant, speaker_id)
