"""Whisper speech recognition with faster-whisper (CTranslate2).

faster-whisper runs the Whisper weights through CTranslate2: int8 on CPU and
float16 on CUDA, several times faster than the reference implementation at the
same accuracy, and it needs no torch at inference time. Requests of one batch run
on ``num_workers`` threads: CTranslate2 releases the GIL, so a GPU (or a CPU with
cores to spare) serves them in parallel.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from handlers.common.options import parse_bool
from handlers.common.payload import BadRequest

__all__ = ["LANGUAGES", "DecodeOptions", "WhisperASR", "WhisperConfig", "parse_options"]

SAMPLE_RATE = 16000

LANGUAGES = frozenset(
    [
        "af",
        "am",
        "ar",
        "as",
        "az",
        "ba",
        "be",
        "bg",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "cs",
        "cy",
        "da",
        "de",
        "el",
        "en",
        "es",
        "et",
        "eu",
        "fa",
        "fi",
        "fo",
        "fr",
        "gl",
        "gu",
        "ha",
        "haw",
        "he",
        "hi",
        "hr",
        "ht",
        "hu",
        "hy",
        "id",
        "is",
        "it",
        "ja",
        "jw",
        "ka",
        "kk",
        "km",
        "kn",
        "ko",
        "la",
        "lb",
        "ln",
        "lo",
        "lt",
        "lv",
        "mg",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "ne",
        "nl",
        "nn",
        "no",
        "oc",
        "pa",
        "pl",
        "ps",
        "pt",
        "ro",
        "ru",
        "sa",
        "sd",
        "si",
        "sk",
        "sl",
        "sn",
        "so",
        "sq",
        "sr",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "tk",
        "tl",
        "tr",
        "tt",
        "uk",
        "ur",
        "uz",
        "vi",
        "yi",
        "yo",
        "zh",
        "yue",
    ]
)


@dataclass(frozen=True)
class WhisperConfig:
    """Model-level settings (``handler:`` block of model-config.yaml, env ``WHISPER_*``)."""

    model_path: str = "whisper-base"  # relative to the model dir, or absolute
    model_name: str = "whisper-base"  # reported to clients
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "auto"  # auto: float16 on cuda, int8 on cpu
    cpu_threads: int = 0  # 0: CTranslate2 default
    num_workers: int = 1  # parallel transcriptions inside one batch
    beam_size: int = 5
    vad_filter: bool = False
    max_audio_sec: float = 600.0  # per item; the gateway sends <= 30 s pieces
    max_beam_size: int = 10
    max_prompt_chars: int = 1000
    # prompt (<= 224 tokens) + new tokens must fit Whisper's 448-token context
    max_new_tokens_limit: int = 220
    # fit_window requests: seconds of padding kept after the audio in the encoder window.
    # Whisper hallucinates when its window ends right after the speech; 5 s of padding kept
    # the WER of short clips at the full-window level here (see the note on fit_window).
    fit_window_pad_sec: float = 5.0


@dataclass(frozen=True)
class DecodeOptions:
    """Per-request options; anything left None takes the model default."""

    language: str | None = None  # None: detect
    task: str = "transcribe"
    beam_size: int = 5
    word_timestamps: bool = False
    vad_filter: bool = False
    initial_prompt: str | None = None
    temperature: float | None = None  # None: faster-whisper's fallback ladder
    # Encode only the audio plus fit_window_pad_sec instead of Whisper's fixed 30 s window.
    # The encoder costs the same for 3 s as for 30 s of audio, so this makes the short, frequent
    # decodes of live streams 2-3x cheaper on CPU (the "audio_ctx" idea of whisper.cpp).
    fit_window: bool = False
    max_new_tokens: int | None = None  # a cap on the text of one 30 s window: bounds a repetition loop's cost


def _flag(value: Any, name: str) -> bool:
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be true or false") from exc


def _bounded(params: dict[str, Any], name: str, cast: type, low: float, high: float, default: Any = None) -> Any:
    """A numeric param within [low, high]; ``default`` when absent (None stays None)."""
    value = params.get(name, default)
    if value is None:
        return None
    try:
        value = cast(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"{name} must be {'an integer' if cast is int else 'a number'}") from exc
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low:g} and {high:g}")
    return value


def parse_options(params: dict[str, Any], config: WhisperConfig) -> DecodeOptions:
    """Validate request params against the config; raise BadRequest with a clear message."""
    language = params.get("language")
    if language in (None, "", "auto"):
        language = None
    elif not isinstance(language, str) or language.lower() not in LANGUAGES:
        raise BadRequest(f"unsupported language {language!r}")
    else:
        language = language.lower()
    task = params.get("task", "transcribe")
    if task not in ("transcribe", "translate"):
        raise BadRequest("task must be 'transcribe' or 'translate'")
    beam_size = _bounded(params, "beam_size", int, 1, config.max_beam_size, config.beam_size)
    prompt = params.get("initial_prompt") or None
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > config.max_prompt_chars):
        raise BadRequest(f"initial_prompt must be text of at most {config.max_prompt_chars} characters")
    max_new_tokens = _bounded(params, "max_new_tokens", int, 1, config.max_new_tokens_limit)
    temperature = _bounded(params, "temperature", float, 0.0, 1.0)
    return DecodeOptions(
        language=language,
        task=task,
        beam_size=beam_size,
        word_timestamps=_flag(params.get("word_timestamps", False), "word_timestamps"),
        vad_filter=_flag(params.get("vad_filter", config.vad_filter), "vad_filter"),
        initial_prompt=prompt,
        temperature=temperature,
        fit_window=_flag(params.get("fit_window", False), "fit_window"),
        max_new_tokens=max_new_tokens,
    )


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """Pick cuda + float16 when a GPU is there, else cpu + int8 (unless set explicitly)."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


class WhisperASR:
    """One loaded Whisper model; thread-safe for ``num_workers`` concurrent calls."""

    def __init__(self, config: WhisperConfig, base_dir: str = ".", device_index: int = 0) -> None:
        self.config = config
        path = config.model_path
        if not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        if not os.path.isfile(os.path.join(path, "model.bin")):
            raise FileNotFoundError(f"no CTranslate2 model.bin in {path}")
        self.device, self.compute_type = resolve_device(config.device, config.compute_type)
        self.model = _fit_window_model()(
            path,
            device=self.device,
            device_index=device_index,
            compute_type=self.compute_type,
            cpu_threads=config.cpu_threads,
            num_workers=config.num_workers,
            local_files_only=True,
        )
        self._pool = ThreadPoolExecutor(max_workers=max(1, config.num_workers))

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> dict[str, Any]:
        """Transcribe one mono float32 16 kHz clip into a JSON-ready dict."""
        duration = len(audio) / SAMPLE_RATE
        if duration > self.config.max_audio_sec:
            raise BadRequest(f"audio longer than {self.config.max_audio_sec:g} s")
        kwargs: dict[str, Any] = {
            "language": options.language,
            "task": options.task,
            "beam_size": options.beam_size,
            "word_timestamps": options.word_timestamps,
            "vad_filter": options.vad_filter,
            "initial_prompt": options.initial_prompt,
            "max_new_tokens": options.max_new_tokens,
        }
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        frames = None
        if options.fit_window and duration + self.config.fit_window_pad_sec < _FULL_WINDOW_SEC:
            frames = math.ceil(duration + self.config.fit_window_pad_sec) * _FRAMES_PER_SEC
        self.model.limit_frames(frames)
        try:
            segments_iter, info = self.model.transcribe(audio, **kwargs)
            segments = [_segment_dict(s, options.word_timestamps) for s in segments_iter]
        finally:
            self.model.limit_frames(None)
        return {
            "text": "".join(s["text"] for s in segments).strip(),
            "language": info.language,
            "language_probability": round(float(info.language_probability), 4),
            "duration": round(float(info.duration), 3),
            "model": self.config.model_name,
            "task": options.task,
            "segments": segments,
        }

    def transcribe_many(self, jobs: list[tuple[np.ndarray, DecodeOptions]]) -> list[dict[str, Any] | Exception]:
        """Run a batch on the worker threads; a failing clip yields its exception, not a crash."""
        futures = [self._pool.submit(self.transcribe, audio, opts) for audio, opts in jobs]
        results: list[dict[str, Any] | Exception] = []
        for fut in futures:
            try:
                results.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - reported per item by the shell
                results.append(exc)
        return results


_FULL_WINDOW_SEC = 30
_FRAMES_PER_SEC = 100  # mel frames per second of audio


def _fit_window_model() -> Any:
    """faster-whisper's WhisperModel whose encoder input can be cut short, per calling thread.

    faster-whisper always pads the mel features to 30 s; CTranslate2's encoder accepts fewer
    frames. The limit is thread-local because transcribe() runs on the batch's worker threads.
    """
    from faster_whisper import WhisperModel

    class FitWindowWhisper(WhisperModel):  # type: ignore[misc]
        _local = threading.local()

        def limit_frames(self, frames: int | None) -> None:
            self._local.frames = frames

        def encode(self, features: np.ndarray) -> Any:
            frames = getattr(self._local, "frames", None)
            if frames:
                features = np.ascontiguousarray(features[..., :frames])
            return super().encode(features)

    return FitWindowWhisper


def _segment_dict(seg: Any, with_words: bool) -> dict[str, Any]:
    out = {
        "id": seg.id,
        "seek": seg.seek,
        "start": round(seg.start, 3),
        "end": round(seg.end, 3),
        "text": seg.text,
        "tokens": list(seg.tokens),
        "temperature": seg.temperature,
        "avg_logprob": round(seg.avg_logprob, 4),
        "compression_ratio": round(seg.compression_ratio, 4),
        "no_speech_prob": round(seg.no_speech_prob, 4),
    }
    if with_words and seg.words:
        out["words"] = [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(w).items()} for w in seg.words
        ]
    return out
