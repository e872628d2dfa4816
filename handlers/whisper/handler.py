"""TorchServe shell around handlers.whisper.asr (TorchServe instantiates the one class here)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from handlers.common.base import AudioModelHandler
from handlers.whisper.asr import SAMPLE_RATE, WhisperASR, WhisperConfig
from handlers.whisper.openai_engine import OpenAIWhisperASR
from wire.options import DecodeOptions
from wire.transcript import Transcription

log = logging.getLogger(__name__)


class WhisperHandler(AudioModelHandler):
    config_cls = WhisperConfig
    env_prefix = "WHISPER"
    sample_rate = SAMPLE_RATE

    def load(self, config: WhisperConfig, model_dir: str, gpu_id: int | None) -> None:
        if config.engine == "openai-whisper":
            self.asr: WhisperASR | OpenAIWhisperASR = OpenAIWhisperASR(config, model_dir, device_index=gpu_id or 0)
        elif config.engine == "faster-whisper":
            self.asr = WhisperASR(config, base_dir=model_dir, device_index=gpu_id or 0)
        else:
            raise ValueError(f"WHISPER_ENGINE must be faster-whisper or openai-whisper, not {config.engine!r}")
        log.info(
            "whisper loaded: %s (%s) on %s/%s", config.model_path, config.engine, self.asr.device, self.asr.compute_type
        )

    def prepare(self, item: Any) -> tuple[Any, DecodeOptions, tuple[str, ...]]:
        request = self.read(item)
        config = self.asr.config
        options = DecodeOptions.parse(
            request.params, default_beam_size=config.beam_size, default_vad_filter=config.vad_filter
        )
        return request.audio, options, request.warnings

    def infer(self, jobs: list[tuple[Any, DecodeOptions, tuple[str, ...]]]) -> list[Any]:
        results = self.asr.transcribe_many([(audio, options) for audio, options, _ in jobs])
        # the decoder's warnings (damaged packets skipped) travel with the transcript
        return [
            replace(result, warnings=[*result.warnings, *warnings]).to_dict()
            if isinstance(result, Transcription)
            else result
            for result, (_, _, warnings) in zip(results, jobs, strict=True)
        ]
