"""TorchServe shell around handlers.speaker_embedding.embedding: audio in, 256-d embedding out."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from handlers.common.base import AudioModelHandler
from handlers.speaker_embedding.embedding import SAMPLE_RATE, SpeakerConfig, SpeakerEncoder, speech_mask
from wire.spans import parse_spans

log = logging.getLogger(__name__)


class SpeakerEmbeddingHandler(AudioModelHandler):
    config_cls = SpeakerConfig
    env_prefix = "SPEAKER"
    sample_rate = SAMPLE_RATE

    def load(self, config: SpeakerConfig, model_dir: str, gpu_id: int | None) -> None:
        self.encoder = SpeakerEncoder(config, base_dir=model_dir)
        log.info("speaker encoder loaded on %s", self.encoder.device)

    def prepare(self, item: Any) -> tuple[np.ndarray, list[tuple[float, float]] | None]:
        request = self.read(item)
        return request.audio, parse_spans(request.params, len(request.audio) / SAMPLE_RATE)

    def infer(self, jobs: list[tuple[np.ndarray, list[tuple[float, float]] | None]]) -> list[Any]:
        """Every clip and every span of the batch through one forward pass; answers regrouped per request."""
        config = self.encoder.config
        pieces: list[np.ndarray] = []
        least: list[float | None] = []  # voice needed (None: not speech); a span may be silence, a clip not
        for audio, spans in jobs:
            if spans is None:
                pieces.append(audio)
                least.append(config.min_voiced_sec)
            else:
                speech = speech_mask(audio)
                for a, b in spans:
                    start, end = round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)
                    pieces.append(audio[start:end])
                    # a window that is mostly not speech (Silero VAD) is left out whatever WebRTC VAD thinks:
                    # music or noise otherwise becomes a "speaker" of its own
                    mostly_speech = (
                        speech[start:end].mean() >= config.min_span_speech_fraction if end > start else False
                    )
                    least.append(config.min_span_voiced_sec if mostly_speech else None)
        embedded = self.encoder.embed_many(pieces, least)
        answers: list[Any] = []
        at = 0
        for _, spans in jobs:
            if spans is None:
                answers.append(embedded[at])
                at += 1
            else:
                answers.append({"spans": [_span(r) for r in embedded[at : at + len(spans)]]})
                at += len(spans)
        return answers


def _span(result: dict[str, object] | Exception) -> dict[str, object]:
    """A span too quiet to embed is a null embedding, not an error: silence is an answer here."""
    if isinstance(result, Exception):
        return {"embedding": None, "voiced_sec": 0.0}
    return result
