"""Denoising real-time factor (service and in-process) and speaker-verification latency."""

from __future__ import annotations

from functools import partial

import httpx

from benchmarks.common import DATA, median_time
from scripts.paths import ROOT

__all__ = ["bench_enhance", "bench_verify"]

NOISY = [
    "facebookresearch__denoiser/valentini_noisy/p287_002.wav",
    "Rikorose__DeepFilterNet/noisy_snr0.wav",
]
SPEAKER_CLIPS = [
    "resemble-ai__Resemblyzer/librispeech_test-other/1688/1688-142285-0001.flac",
    "resemble-ai__Resemblyzer/librispeech_test-other/1688/1688-142285-0002.flac",
]


def _enhance_call(client: httpx.Client, url: str, method: str, name: str, data: bytes) -> None:
    client.post(url, params={"method": method}, files={"file": (name, data)}).raise_for_status()


def bench_enhance(client: httpx.Client, url: str, repeats: int) -> list[dict[str, object]]:
    from handlers.enhancer.denoise import Denoiser, EnhancerConfig
    from wire.audio import read_audio_file

    local = Denoiser(EnhancerConfig(), base_dir=str(ROOT / "model-store" / "enhancer"))
    rows: list[dict[str, object]] = []
    for name in NOISY:
        path = DATA / name
        data = path.read_bytes()
        decoded = read_audio_file(path)
        audio, rate = decoded.samples, decoded.sample_rate
        seconds = len(audio) / rate
        for method in ("deepfilternet", "noisereduce"):
            api = partial(_enhance_call, client, f"{url}/audio/enhance", method, path.name, data)
            api()  # warm-up
            service = median_time(api, repeats)
            direct = median_time(partial(local.enhance, audio, rate, method, None), repeats)
            rows.append(
                {
                    "clip": name,
                    "rate": rate,
                    "audio_sec": round(seconds, 2),
                    "method": method,
                    "service_rtf": round(service / seconds, 3),
                    "direct_rtf": round(direct / seconds, 3),
                }
            )
            print(rows[-1])
    return rows


def bench_verify(client: httpx.Client, url: str, repeats: int) -> dict[str, float]:
    probe, reference = (DATA / name for name in SPEAKER_CLIPS)
    files = {"probe": (probe.name, probe.read_bytes()), "reference": (reference.name, reference.read_bytes())}
    client.post(
        f"{url}/speaker/enroll", data={"speaker_id": "bench"}, files={"file": files["reference"]}
    ).raise_for_status()

    def pair() -> None:
        client.post(f"{url}/speaker/verify", files=files).raise_for_status()

    def enrolled() -> None:
        client.post(
            f"{url}/speaker/verify", data={"speaker_id": "bench"}, files={"probe": files["probe"]}
        ).raise_for_status()

    pair()
    result = {
        "verify_with_reference_median_sec": round(median_time(pair, repeats), 3),
        "verify_enrolled_median_sec": round(median_time(enrolled, repeats), 3),
    }
    print(result)
    return result
