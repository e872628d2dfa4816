"""TorchServe shell around handlers.speaker_embedding.embedding: audio in, 256-d embedding out."""

from __future__ import annotations

import logging
from typing import Any

from handlers.common.base import AudioModelHandler
from handlers.speaker_embedding.embedding import SAMPLE_RATE, SpeakerConfig, SpeakerEncoder

log = logging.getLogger(__name__)


class SpeakerEmbeddingHandler(AudioModelHandler):
    config_cls = SpeakerConfig
    env_prefix = "SPEAKER"
    sample_rate = SAMPLE_RATE

    def load(self, config: SpeakerConfig, model_dir: str, gpu_id: int | None) -> None:
        self.encoder = SpeakerEncoder(config, base_dir=model_dir)
        log.info("speaker encoder loaded on %s", self.encoder.device)

    def prepare(self, item: Any) -> Any:
        return self.read(item).audio

    def infer(self, jobs: list[Any]) -> list[Any]:
        return self.encoder.embed_many(jobs)  # one forward pass for the whole batch
