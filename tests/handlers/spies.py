"""Spies on the whisper handler's batched path: what ``prefetch`` prepared, and the batch size of each model call.

They record and pass every call through unchanged, so a test sees the real decoding and can assert how it ran.
"""

from __future__ import annotations

from typing import Any

import pytest


def record_prefetch(monkeypatch: pytest.MonkeyPatch) -> list[dict[int, int | None]]:
    """Each batch's ``prefetch`` answer (the clips it prepared, with their encoder frames), in call order."""
    import handlers.whisper.asr as asr_module

    prepared: list[dict[int, int | None]] = []
    real_prefetch = asr_module.prefetch

    def counted(*args: Any) -> dict[int, int | None]:
        prepared.append(real_prefetch(*args))
        return prepared[-1]

    monkeypatch.setattr(asr_module, "prefetch", counted)
    return prepared


class CallSizes:
    """A CTranslate2 Whisper model that notes each encode's and generate's batch size under the current label."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.batches: dict[Any, list[tuple[str, int]]] = {}

    def label(self, key: Any) -> None:
        """Note the calls from here on under ``key``."""
        self.batches[key] = []

    def encode(self, features: Any, *args: Any, **kwargs: Any) -> Any:
        self._note("encode", features.shape[0])
        return self._model.encode(features, *args, **kwargs)

    def generate(self, encoder_output: Any, prompts: Any, *args: Any, **kwargs: Any) -> Any:
        self._note("generate", len(prompts))
        return self._model.generate(encoder_output, prompts, *args, **kwargs)

    def _note(self, call: str, size: int) -> None:
        if self.batches:
            next(reversed(self.batches.values())).append((call, size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class Decode:
    """One batched decode of the openai-whisper engine: its rows, temperature (the first row's, when each row
    has its own), the rows' temperatures, per-row prompt length, and the rows its encoder pass took."""

    def __init__(self, rows: int, temperature: float, prompt_tokens: int, temperatures: list[float] | None) -> None:
        self.rows, self.temperature, self.prompt_tokens = rows, temperature, prompt_tokens
        self.temperatures = temperatures
        self.encoded: list[int] = []

    def __repr__(self) -> str:
        return (
            f"Decode(rows={self.rows}, temperature={self.temperature}, prompt_tokens={self.prompt_tokens},"
            f" temperatures={self.temperatures}, encoded={self.encoded})"
        )


def record_decodes(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[Decode]:
    """Each ``OpenAIWhisperASR.decode`` call, in order (``monkeypatch.undo()`` stops the recording)."""
    decodes: list[Decode] = []
    real = engine.decode

    def spy(
        mels: Any, options: Any, languages: Any = None, prompts: Any = None, temperatures: Any = None, repeats: int = 1
    ) -> Any:
        rows, prompt_tokens = int(mels.shape[0]), len(prompts[0]) if prompts else 0
        decodes.append(Decode(rows, float(options.temperature), prompt_tokens, temperatures))
        return real(mels, options, languages, prompts, temperatures, repeats)

    encode = engine.model.encoder.forward

    def encoded(mels: Any) -> Any:
        if decodes:
            decodes[-1].encoded.append(int(mels.shape[0]))
        return encode(mels)

    monkeypatch.setattr(engine, "decode", spy)
    monkeypatch.setattr(engine.model.encoder, "forward", encoded)
    return decodes
