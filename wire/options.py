"""Per-request Whisper decode options: one typed class, its bounds, and how it travels.

The gateway builds ``DecodeOptions`` from its query parameters and sends
``to_params()``; the whisper handler rebuilds it with ``parse`` (which accepts the
loose JSON a direct TorchServe caller may send). Construction validates, so an
out-of-bounds value is refused the same way on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from wire.errors import ErrorKind, WireError
from wire.languages import LANGUAGE_NAMES, parse_language

__all__ = [
    "BEAM_SIZE_MAX",
    "HOTWORDS_MAX_CHARS",
    "MAX_NEW_TOKENS_LIMIT",
    "PROMPT_MAX_CHARS",
    "TASKS",
    "DecodeOptions",
    "parse_bool",
]

TASKS = ("transcribe", "translate")
BEAM_SIZE_MAX = 10
PROMPT_MAX_CHARS = 1000
HOTWORDS_MAX_CHARS = 500  # faster-whisper keeps at most half the 448-token context for them
# A prompt takes at most 224 of Whisper's 448 context tokens; new text must fit in what is left.
MAX_NEW_TOKENS_LIMIT = 220
TEMPERATURE_MAX = 1.0
SKIP_TAIL_MAX_SEC = 30.0  # one Whisper window

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(value: Any) -> bool:
    """A boolean from JSON, a query string or an env var; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {str(value)[:20]!r}")


def _invalid(detail: str) -> WireError:
    return WireError(ErrorKind.INVALID_REQUEST, detail)


@dataclass(frozen=True)
class DecodeOptions:
    """What one transcription request asks of Whisper; None fields take the model's default."""

    language: str | None = None  # None: detect
    task: str = "transcribe"
    beam_size: int = 5
    word_timestamps: bool = False
    vad_filter: bool = False
    initial_prompt: str | None = None
    temperature: float | None = None  # None: faster-whisper's fallback ladder
    # Encode only the audio plus the handler's padding instead of Whisper's fixed 30 s window:
    # the encoder costs the same for 3 s as for 30 s, so short stream decodes get 2-3x cheaper.
    fit_window: bool = False
    max_new_tokens: int | None = None  # bounds the cost of a repetition loop
    # Audio left after the model's last timestamp in a window, when shorter than this, is not decoded
    # as a window of its own. A live stream decodes it again 0.5 s later with more audio after it;
    # alone it is a cut-off word that Whisper mostly answers by repeating the prompt.
    skip_tail_sec: float | None = None
    hotwords: str | None = None  # words and names to expect (faster-whisper's hotwords)

    def __post_init__(self) -> None:
        if self.language is not None and self.language not in LANGUAGE_NAMES:
            raise _invalid(f"unsupported language {self.language[:20]!r}")
        if self.task not in TASKS:
            raise _invalid("task must be 'transcribe' or 'translate'")
        if not 1 <= self.beam_size <= BEAM_SIZE_MAX:
            raise _invalid(f"beam_size must be between 1 and {BEAM_SIZE_MAX}")
        if self.initial_prompt is not None and len(self.initial_prompt) > PROMPT_MAX_CHARS:
            raise _invalid(f"initial_prompt must be text of at most {PROMPT_MAX_CHARS} characters")
        if self.max_new_tokens is not None and not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise _invalid(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}")
        if self.hotwords is not None and len(self.hotwords) > HOTWORDS_MAX_CHARS:
            raise _invalid(f"hotwords must be text of at most {HOTWORDS_MAX_CHARS} characters")
        if self.temperature is not None and not 0.0 <= self.temperature <= TEMPERATURE_MAX:
            raise _invalid(f"temperature must be between 0 and {TEMPERATURE_MAX:g}")
        if self.skip_tail_sec is not None and not 0.0 <= self.skip_tail_sec <= SKIP_TAIL_MAX_SEC:
            raise _invalid(f"skip_tail_sec must be between 0 and {SKIP_TAIL_MAX_SEC:g}")

    def to_params(self) -> dict[str, Any]:
        """JSON-ready fields, the unset ones left out (the handler then uses its defaults)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def parse(
        cls, params: Mapping[str, Any], *, default_beam_size: int = 5, default_vad_filter: bool = False
    ) -> DecodeOptions:
        """Options from loosely typed JSON; WireError(invalid_request) names the first bad field."""
        prompt = params.get("initial_prompt") or None
        if prompt is not None and not isinstance(prompt, str):
            raise _invalid("initial_prompt must be text")
        hotwords = params.get("hotwords") or None
        if hotwords is not None and not isinstance(hotwords, str):
            raise _invalid("hotwords must be text")
        task = params.get("task", "transcribe")
        return cls(
            language=parse_language(params.get("language")),
            task=task if isinstance(task, str) else "",
            beam_size=_number(params, "beam_size", int, default_beam_size),
            word_timestamps=_flag(params, "word_timestamps", False),
            vad_filter=_flag(params, "vad_filter", default_vad_filter),
            initial_prompt=prompt,
            temperature=_number(params, "temperature", float, None),
            fit_window=_flag(params, "fit_window", False),
            max_new_tokens=_number(params, "max_new_tokens", int, None),
            hotwords=hotwords,
            skip_tail_sec=_number(params, "skip_tail_sec", float, None),
        )


def _flag(params: Mapping[str, Any], name: str, default: bool) -> bool:
    try:
        return parse_bool(params.get(name, default))
    except ValueError as exc:
        raise _invalid(f"{name} must be true or false") from exc


def _number(params: Mapping[str, Any], name: str, cast: type, default: Any) -> Any:
    """A number of type ``cast`` (bools and non-finite values refused); ``default`` when absent."""
    value = params.get(name)
    if value is None:
        return default
    wanted = "an integer" if cast is int else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _invalid(f"{name} must be {wanted}")
    try:
        number = cast(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _invalid(f"{name} must be {wanted}") from exc
    if isinstance(number, float) and not math.isfinite(number):
        raise _invalid(f"{name} must be {wanted}")
    return number
