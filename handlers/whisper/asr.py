"""Whisper speech recognition with faster-whisper (CTranslate2).

faster-whisper runs the Whisper weights through CTranslate2: int8 on CPU and
float16 on CUDA, several times faster than the reference implementation at the
same accuracy, and it needs no torch at inference time. Requests of one batch run
on ``num_workers`` threads: CTranslate2 releases the GIL, so a GPU (or a CPU with
cores to spare) serves them in parallel.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from handlers.whisper.engine import TailSkipped, engine_class
from handlers.whisper.first_window import prefetch
from wire.envelope import MODEL_SAMPLE_RATE
from wire.errors import ErrorKind, WireError
from wire.options import DecodeOptions
from wire.transcript import Segment, Transcription, Word, within_audio

__all__ = ["SAMPLE_RATE", "WhisperASR", "WhisperConfig"]

log = logging.getLogger(__name__)

SAMPLE_RATE = MODEL_SAMPLE_RATE


@dataclass(frozen=True)
class WhisperConfig:
    """Model-level settings (``handler:`` block of model-config.yaml, env ``WHISPER_*``)."""

    # faster-whisper (CTranslate2: int8 on CPU, float16 on CUDA) or openai-whisper (PyTorch: float16 on
    # CUDA, float32 on CPU; the same weights converted at build time, see openai_engine.py)
    engine: str = "faster-whisper"
    model_path: str = "whisper-base"  # relative to the model dir, or absolute
    model_name: str = "whisper-base"  # reported to clients
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "auto"  # auto: float16 on cuda, int8 on cpu
    cpu_threads: int = 0  # 0: CTranslate2 default
    # Transcriptions of one TorchServe batch that run at once (CTranslate2 replicas, +150 MiB each on
    # CPU). Two: the decodes of two live streams that share a batch overlap; on a 2-core CPU, two at a
    # time finished 10-15 % sooner than one after the other, and file throughput was unchanged.
    num_workers: int = 2
    beam_size: int = 5
    vad_filter: bool = False
    max_audio_sec: float = 600.0  # per item; the gateway sends <= 30 s pieces
    # fit_window requests: seconds of padding kept after the audio in the encoder window.
    # Whisper hallucinates when its window ends right after the speech; 5 s of padding kept
    # the WER of short clips at the full-window level here (see the note on fit_window).
    fit_window_pad_sec: float = 5.0
    # Decode the first window of a TorchServe batch's clips as one batched encode + generate
    # (handlers/whisper/first_window.py); off: each clip alone, as faster-whisper does.
    batch_first_window: bool = True
    # openai-whisper engine: a window whose decoding fails the fallback checks is sampled at every
    # remaining temperature in one decode (each row its own), not one temperature after another. The
    # same outcomes (the first rung that passes is kept, and the rungs after it stop there: the
    # decoding task's _settle); more arithmetic, fewer decodes: for a GPU,
    # where a decode costs about the same for 1 row or 40 (on two H100 leases it decoded 32 windows
    # 2.1x and 3.2x sooner, benchmarks/RESULTS.md). auto: on when decoding on CUDA; true | false.
    fallback_at_once: str = "auto"
    # openai-whisper engine on CUDA: let PyTorch pick cuDNN's attention kernels (its first choice on
    # Hopper). cuDNN builds a kernel graph for each new shape, and a decode's self-attention shape
    # changes at every step and with each batch's row count: up to 224 builds for a decode of a new
    # row count. Off: PyTorch's flash and memory-efficient kernels, which build nothing. Process-wide.
    cudnn_attention: bool = False


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """Pick cuda + float16 when a GPU is there, else cpu + int8 (unless set explicitly)."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def cuda_fails(model: Any) -> str | None:
    """Why one encode of a silent window fails on the GPU, or None when it runs."""
    import ctranslate2

    silence = np.zeros((1, model.model.n_mels, 3000), dtype=np.float32)
    try:
        model.model.encode(ctranslate2.StorageView.from_array(silence))
    except RuntimeError as exc:
        return str(exc)
    return None


class _Own:
    """Marker: the clip's own fitted window (no batch chose one for it)."""


OWN_FRAMES = _Own()


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
        self.model = self._load(path, device_index)
        if self.device == "cuda" and (why := cuda_fails(self.model)):
            # The PyPI wheel is built for CUDA 12: on a CUDA 13 node it counts the GPU, then cannot
            # load cuBLAS at the first matrix product (seen on an H200, benchmarks/RESULTS.md).
            advice = "engine: openai-whisper (PyTorch) runs on this GPU"
            if config.device == "cuda":
                raise RuntimeError(f"WHISPER_DEVICE=cuda but CTranslate2 cannot run on this GPU ({why}); {advice}")
            log.warning("CTranslate2 cannot run on this GPU (%s): Whisper runs on the CPU; %s", why, advice)
            self.device, self.compute_type = resolve_device("cpu", config.compute_type)
            self.model = self._load(path, device_index)
        self._pool = ThreadPoolExecutor(max_workers=max(1, config.num_workers))

    def _load(self, path: str, device_index: int) -> Any:
        return engine_class()(
            path,
            device=self.device,
            device_index=device_index,
            compute_type=self.compute_type,
            cpu_threads=self.config.cpu_threads,
            num_workers=self.config.num_workers,
            local_files_only=True,
        )

    def _frames(self, audio: np.ndarray, options: DecodeOptions) -> int | None:
        """Encoder frames for a fit_window request (None: Whisper's full 30 s window)."""
        duration = len(audio) / SAMPLE_RATE
        if options.fit_window and duration + self.config.fit_window_pad_sec < _FULL_WINDOW_SEC:
            return math.ceil(duration + self.config.fit_window_pad_sec) * _FRAMES_PER_SEC
        return None

    def transcribe(
        self, audio: np.ndarray, options: DecodeOptions, frames: int | _Own | None = OWN_FRAMES
    ) -> Transcription:
        """Transcribe one mono float32 16 kHz clip (``frames``: the encoder window its batch chose)."""
        duration = len(audio) / SAMPLE_RATE
        if duration > self.config.max_audio_sec:
            raise WireError(ErrorKind.TOO_LONG, f"audio longer than {self.config.max_audio_sec:g} s")
        kwargs: dict[str, Any] = {
            "language": options.language,
            "task": options.task,
            "beam_size": options.beam_size,
            "word_timestamps": options.word_timestamps,
            "vad_filter": options.vad_filter,
            "initial_prompt": options.initial_prompt,
            "max_new_tokens": options.max_new_tokens,
            "hotwords": options.hotwords,
        }
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        self.model.limit_frames(self._frames(audio, options) if isinstance(frames, _Own) else frames)
        self.model.skip_tail(round((options.skip_tail_sec or 0.0) * _FRAMES_PER_SEC))
        segments: list[Segment] = []
        try:
            segments_iter, info = self.model.transcribe(audio, **kwargs)
            # faster-whisper decodes window by window as segments are taken; a skipped tail ends it
            # there, and the windows before it are the answer the request asked for
            with contextlib.suppress(TailSkipped):
                for seg in segments_iter:
                    segments.append(_segment(seg, options.word_timestamps))
        finally:
            self.model.limit_frames(None)
            self.model.skip_tail(0)
        segments, warnings = within_audio(segments, duration)
        return Transcription(
            text="".join(s.text for s in segments).strip(),
            language=info.language,
            language_probability=round(float(info.language_probability), 4),
            duration=round(float(info.duration), 3),
            model=self.config.model_name,
            task=options.task,
            segments=segments,
            warnings=warnings,
        )

    def transcribe_many(self, jobs: list[tuple[np.ndarray, DecodeOptions]]) -> list[Transcription | Exception]:
        """A batch: first windows decoded together (one generate per group of clips that can share it),
        then each clip finished on the worker threads; a failing clip yields its exception."""
        chosen: dict[int, int | None] = {}
        if self.config.batch_first_window and len(jobs) > 1:
            framed = [(audio, opts, self._frames(audio, opts)) for audio, opts in jobs]
            try:
                chosen = prefetch(self.model, self.model.first_windows, framed, self._pool)
            except Exception:
                # an optimisation: whatever went wrong, the clips still decode one by one
                log.exception("batched first windows failed; decoding one by one")
                self.model.first_windows.clear()
        futures = [
            self._pool.submit(self.transcribe, audio, opts, chosen.get(i, OWN_FRAMES))
            for i, (audio, opts) in enumerate(jobs)
        ]
        results: list[Transcription | Exception] = []
        for fut in futures:
            try:
                results.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - reported per item by the shell
                results.append(exc)
        self.model.first_windows.clear()  # a window nobody picked up must not outlive its batch
        return results


_FULL_WINDOW_SEC = 30
_FRAMES_PER_SEC = 100  # mel frames per second of audio


def _segment(seg: Any, with_words: bool) -> Segment:
    """faster-whisper's segment as the wire type (times to the millisecond)."""
    words = None
    if with_words and seg.words:
        words = [Word(round(w.start, 3), round(w.end, 3), w.word, round(w.probability, 3)) for w in seg.words]
    return Segment(
        id=seg.id,
        seek=seg.seek,
        start=round(seg.start, 3),
        end=round(seg.end, 3),
        text=seg.text,
        tokens=list(seg.tokens),
        temperature=seg.temperature,
        avg_logprob=round(seg.avg_logprob, 4),
        compression_ratio=round(seg.compression_ratio, 4),
        no_speech_prob=round(seg.no_speech_prob, 4),
        words=words,
    )
