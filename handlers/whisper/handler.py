"""TorchServe shell around handlers.whisper.asr (TorchServe instantiates the one class here)."""

from __future__ import annotations

import logging
from typing import Any

from handlers.common.payload import decode_item
from handlers.common.shell import AudioModelHandler
from handlers.whisper.asr import SAMPLE_RATE, DecodeOptions, WhisperASR, WhisperConfig, parse_options

log = logging.getLogger(__name__)


class WhisperHandler(AudioModelHandler):
    config_cls = WhisperConfig
    env_prefix = "WHISPER"

    def load(self, config: WhisperConfig, model_dir: str, gpu_id: int | None) -> None:
        self.asr = WhisperASR(config, base_dir=model_dir, device_index=gpu_id or 0)
        log.info("whisper loaded: %s on %s/%s", config.model_path, self.asr.device, self.asr.compute_type)

    def prepare(self, item: Any) -> tuple[Any, DecodeOptions]:
        decoded = decode_item(item, SAMPLE_RATE)
        return decoded.audio, parse_options(decoded.params, self.asr.config)

    def infer(self, jobs: list[tuple[Any, DecodeOptions]]) -> list[Any]:
        return self.asr.transcribe_many(jobs)
