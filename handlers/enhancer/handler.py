"""TorchServe shell around handlers.enhancer.denoise: audio in, PCM16 WAV at the input's rate out."""

from __future__ import annotations

import logging
from typing import Any

from handlers.common.base import AudioModelHandler
from handlers.enhancer.denoise import Denoiser, EnhancerConfig
from wire.envelope import ModelRequest
from wire.pcm import to_wav

log = logging.getLogger(__name__)


class EnhancerHandler(AudioModelHandler):
    config_cls = EnhancerConfig
    env_prefix = "ENHANCER"
    content_type = "audio/wav"

    def load(self, config: EnhancerConfig, model_dir: str, gpu_id: int | None) -> None:
        self.enhancer = Denoiser(config, base_dir=model_dir)
        log.info("enhancer loaded; default method %s", config.method)

    def prepare(self, item: Any) -> ModelRequest:
        return self.read(item)  # sample_rate None: the answer comes back at the caller's rate

    def run_one(self, job: ModelRequest) -> bytes:
        audio = self.enhancer.enhance(
            job.audio, job.sample_rate, job.params.get("method"), job.params.get("atten_lim_db")
        )
        return to_wav(audio, job.sample_rate)
