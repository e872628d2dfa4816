"""/audio/enhance and transcribe?enhance=true through the real enhancer model."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import soxr
from pesq import pesq

from eval.quality import PAIRS, si_sdr
from scripts.stack import Gateway
from wire.audio import read_audio_file
from wire.pcm import from_wav

TIMEOUT = httpx.Timeout(300.0)


def _enhance(gw: Gateway, path: Path, **params: str) -> tuple[str, np.ndarray, int]:
    r = httpx.post(
        f"{gw.url}/audio/enhance", params=params, files={"file": (path.name, path.read_bytes())}, timeout=TIMEOUT
    )
    assert r.status_code == 200, r.text
    name = r.json()["output_filename"]
    wav = httpx.get(f"{gw.url}/files/download/{name}", timeout=TIMEOUT)
    assert wav.status_code == 200 and wav.headers["content-type"].startswith("audio/")
    audio, rate = from_wav(wav.content)
    return name, audio, rate


def test_enhance_improves_quality_through_the_api(gw: Gateway, data_dir: Path) -> None:
    pesq_in, pesq_out, sdr_in, sdr_out = [], [], [], []
    for clean_name, noisy_name in PAIRS:
        noisy_file = read_audio_file(data_dir / noisy_name)
        noisy, rate = noisy_file.samples, noisy_file.sample_rate
        clean = read_audio_file(data_dir / clean_name, rate).samples
        name, out, out_rate = _enhance(gw, data_dir / noisy_name)
        assert name == f"{Path(noisy_name).stem}_enhanced.wav" or name.startswith(f"{Path(noisy_name).stem}_enhanced_")
        assert out_rate == rate and len(out) == len(noisy)  # same rate, same length, no added delay
        n = min(len(clean), len(out))
        c16, x16, y16 = (soxr.resample(a[:n], rate, 16000) if rate != 16000 else a[:n] for a in (clean, noisy, out))
        pesq_in.append(pesq(16000, c16, x16, "wb"))
        pesq_out.append(pesq(16000, c16, y16, "wb"))
        sdr_in.append(si_sdr(clean, noisy))
        sdr_out.append(si_sdr(clean, out))
    print(
        f"PESQ-wb {np.mean(pesq_in):.2f} -> {np.mean(pesq_out):.2f}, SI-SDR {np.mean(sdr_in):.1f} -> {np.mean(sdr_out):.1f} dB"
    )
    assert np.mean(pesq_out) >= np.mean(pesq_in) + 0.5
    assert np.mean(sdr_out) >= np.mean(sdr_in) + 2.5


def test_enhance_a_stored_file_with_the_light_method(gw: Gateway, data_dir: Path) -> None:
    path = data_dir / PAIRS[0][1]
    stored = httpx.post(f"{gw.url}/files/upload", files={"file": ("noisy call.wav", path.read_bytes())}).json()[
        "filename"
    ]
    r = httpx.post(f"{gw.url}/audio/enhance", params={"filename": stored, "method": "noisereduce"}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["output_filename"].startswith("noisy call_enhanced")


def test_transcribe_with_enhance(gw: Gateway, data_dir: Path) -> None:
    path = data_dir / "Rikorose__DeepFilterNet" / "noisy_snr0.wav"
    r = httpx.post(
        f"{gw.url}/audio/transcribe",
        params={"language": "en", "enhance": "true"},
        files={"file": (path.name, path.read_bytes())},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert r.json()["raw"]["duration"] > 10


def test_bad_enhance_input_stores_nothing(gw: Gateway) -> None:
    before = sorted(p.name for p in gw.storage_dir.iterdir())
    r = httpx.post(f"{gw.url}/audio/enhance", files={"file": ("x.wav", b"not audio")}, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json()["detail"]
    r = httpx.post(
        f"{gw.url}/audio/enhance", params={"method": "magic"}, files={"file": ("x.wav", b"x")}, timeout=TIMEOUT
    )
    assert r.status_code == 422
    assert sorted(p.name for p in gw.storage_dir.iterdir()) == before
