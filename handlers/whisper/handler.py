"""TorchServe shell around handlers.whisper.asr: load once, serve batches.

TorchServe instantiates the one class defined here and calls initialize, then handle.
"""

from __future__ import annotations

import logging
from typing import Any

from handlers.common.options import load_options
from handlers.common.payload import BadRequest, decode_item
from handlers.common.shell import ItemError, run_batch
from handlers.whisper.asr import SAMPLE_RATE, WhisperASR, WhisperConfig, parse_options

log = logging.getLogger(__name__)


class WhisperHandler:
    def __init__(self) -> None:
        self.asr: WhisperASR | None = None
        self.initialized = False

    def initialize(self, context: Any) -> None:
        config = load_options(WhisperConfig, (context.model_yaml_config or {}).get("handler"), "WHISPER")
        gpu_id = context.system_properties.get("gpu_id")
        self.asr = WhisperASR(
            config,
            base_dir=context.system_properties.get("model_dir", "."),
            device_index=int(gpu_id) if gpu_id is not None else 0,
        )
        log.info("whisper loaded: %s on %s/%s", config.model_path, self.asr.device, self.asr.compute_type)
        self.initialized = True

    def handle(self, data: list[Any], context: Any) -> list[Any]:
        asr = self.asr
        assert asr is not None, "initialize() was not called"

        def prepare(item: Any) -> tuple[Any, Any]:
            decoded = decode_item(item, SAMPLE_RATE)
            return decoded.audio, parse_options(decoded.params, asr.config)

        def infer(jobs: list[tuple[Any, Any]]) -> list[Any]:
            return [_as_item_result(r) for r in asr.transcribe_many(jobs)]

        return run_batch(data, context, prepare, infer)


def _as_item_result(result: Any) -> Any:
    if isinstance(result, BadRequest):
        return ItemError(400, str(result))
    if isinstance(result, Exception):
        log.exception("transcription failed", exc_info=result)
        return ItemError(500, "transcription failed")
    return result
