"""The enhancer in-process: DeepFilterNet3 through its C runtime, on real noisy/clean pairs."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
from pesq import pesq

from eval.quality import PAIRS, si_sdr
from handlers.enhancer.denoise import Denoiser, EnhancerConfig
from handlers.enhancer.handler import EnhancerHandler
from tests.handlers.context import built_model_dir, load_handler
from wire.audio import read_audio_file

MODEL_DIR = built_model_dir("enhancer")


@pytest.fixture(scope="module")
def enhancer() -> Denoiser:
    return Denoiser(EnhancerConfig(), base_dir=str(MODEL_DIR))


def _load(path: Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    decoded = read_audio_file(path, rate)
    return decoded.samples, decoded.sample_rate


def _scores(clean: np.ndarray, audio: np.ndarray, rate: int) -> tuple[float, float]:
    c16, a16 = (soxr.resample(x, rate, 16000) if rate != 16000 else x for x in (clean, audio))
    n = min(len(c16), len(a16))
    return float(pesq(16000, c16[:n], a16[:n], "wb")), si_sdr(clean[: len(audio)], audio[: len(clean)])


def _measure(enhancer: Denoiser, data_dir: Path, method: str) -> dict[str, float]:
    before, after = [], []
    for clean_name, noisy_name in PAIRS:
        noisy, rate = _load(data_dir / noisy_name)
        clean, _ = _load(data_dir / clean_name, rate)
        out = enhancer.enhance(noisy, rate, method, None)
        assert len(out) == len(noisy)
        before.append(_scores(clean, noisy, rate))
        after.append(_scores(clean, out, rate))
    mean = lambda xs, i: float(np.mean([x[i] for x in xs]))  # noqa: E731
    return {
        "pesq_in": mean(before, 0),
        "pesq_out": mean(after, 0),
        "sdr_in": mean(before, 1),
        "sdr_out": mean(after, 1),
    }


def test_deepfilternet_improves_pesq_and_si_sdr(enhancer: Denoiser, data_dir: Path) -> None:
    m = _measure(enhancer, data_dir, "deepfilternet")
    print(m)  # measured here: PESQ-wb 1.41 -> 2.09, SI-SDR 8.0 -> 11.6 dB (the reference figures)
    assert m["pesq_out"] >= m["pesq_in"] + 0.5
    assert m["sdr_out"] >= m["sdr_in"] + 2.5


def test_default_method_is_the_one_that_measures_better(enhancer: Denoiser, data_dir: Path) -> None:
    dfn = _measure(enhancer, data_dir, "deepfilternet")
    gate = _measure(enhancer, data_dir, "noisereduce")
    print({"deepfilternet": dfn, "noisereduce": gate})
    assert EnhancerConfig().method == "deepfilternet"
    assert dfn["pesq_out"] > gate["pesq_out"] and dfn["sdr_out"] > gate["sdr_out"]


def test_output_is_aligned_with_the_input(enhancer: Denoiser, data_dir: Path) -> None:
    """The network's delay is removed: the enhanced speech lines up with the clean speech."""
    noisy, rate = _load(data_dir / PAIRS[-1][1])
    clean, _ = _load(data_dir / PAIRS[-1][0], rate)
    out = enhancer.enhance(noisy, rate, "deepfilternet", None)
    n = min(len(clean), len(out))
    lags = range(-240, 241)
    best = max(
        lags, key=lambda lag: float(np.dot(clean[max(0, -lag) : n - max(lag, 0)], out[max(lag, 0) : n - max(0, -lag)]))
    )
    assert abs(best) <= 2


def test_handler_batch_returns_wav_per_item_and_rejects_bad_ones(data_dir: Path) -> None:
    handler, ctx = load_handler(EnhancerHandler, "enhancer")
    noisy = (data_dir / PAIRS[0][1]).read_bytes()
    pcm8k = (np.sin(np.linspace(0, 800 * np.pi, 8000)) * 8000).astype("<i2").tobytes()
    batch: list[dict[str, Any]] = [
        {"body": bytearray(noisy)},
        {"data": bytearray(b"nope")},
        {"audio": bytearray(pcm8k), "params": {"format": "s16le", "sample_rate": 8000, "method": "noisereduce"}},
        {"audio": bytearray(pcm8k), "params": {"format": "s16le", "sample_rate": 8000, "method": "magic"}},
        {"audio": bytearray(pcm8k), "params": {"format": "s16le"}},
    ]
    out = handler.handle(batch, ctx)
    with wave.open(io.BytesIO(out[0])) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.getnframes() == len(_load(data_dir / PAIRS[0][1])[0])
    with wave.open(io.BytesIO(out[2])) as w:
        assert (w.getframerate(), w.getnframes()) == (8000, 8000)
    assert ctx.statuses == {
        1: (400, "undecodable audio"),
        3: (400, "method must be one of deepfilternet, noisereduce"),
        4: (400, "PCM needs an integer sample_rate"),
    }
    assert ctx.content_types == {0: "audio/wav", 2: "audio/wav"}
