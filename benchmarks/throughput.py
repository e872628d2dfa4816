"""Throughput and latency at 1/4/8 clients: batching on and off, and the OpenAI route next to faster-whisper-server."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx

from benchmarks.common import CLIPS, DATA, duration, percentile
from handlers.whisper.asr import resolve_device
from scripts.paths import ROOT, WHISPER_WEIGHTS, model_config
from scripts.stack import gateway

__all__ = ["bench_engine", "bench_throughput", "bench_without_batching", "peer_server", "plot"]


def bench_throughput(
    url: str, levels: tuple[int, ...], requests_per_level: int, route: str = "/audio/transcribe"
) -> list[dict[str, object]]:
    """Audio-seconds transcribed per wall-second with ``n`` clients sending clips back to back.

    Each level sends ``requests_per_level`` requests, and at least 4 per client: with fewer, the last
    round (some clients done, the rest still decoding) weighs on the figure as much as the steady state."""
    clips = [(DATA / name, lang) for name, lang in CLIPS if "silero" not in name]
    payloads = [(p.name, p.read_bytes(), lang, duration(p)) for p, lang in clips]

    async def run(n: int) -> tuple[float, float, list[float]]:
        latencies: list[float] = []
        audio = 0.0
        queue = list(range(max(requests_per_level, _ROUNDS * n)))

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
                "latency_p50_sec": round(percentile(latencies, 50), 3),
                "latency_p95_sec": round(percentile(latencies, 95), 3),
            }
        )
        print(rows[-1])
    return rows


_ROUNDS = 4  # requests per client at least, per level


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


_PAIRS = 3  # on/off runs in turn at 8 clients


def bench_without_batching(
    ts: Any, tmp: Path, on_url: str | None = None
) -> tuple[list[dict[str, object]], list[dict[str, float]]]:
    """The same throughput run against a second registration of the whisper archive with batchSize 1
    (and as many workers as the first); then, with ``on_url`` (a gateway on the configured model),
    ``_PAIRS`` runs at 8 clients on each in turn: one pass of each, minutes apart, moved by about
    ±8 % on a 2-core CPU, more than the effect, and runs in turn see the same machine."""
    r = httpx.post(
        f"{ts.management_url}/models",
        params={
            "url": "whisper",
            "model_name": "whisper_nobatch",
            "batch_size": 1,
            "max_batch_delay": 0,
            "initial_workers": model_config("whisper")["minWorkers"],
            "synchronous": "true",
            "response_timeout": 300,
        },
        timeout=600,
    )
    if r.status_code != 200:
        print(f"could not register whisper_nobatch ({r.status_code}: {r.text[:200]}); skipped")
        return [], []
    try:
        with gateway(ts, tmp / "gw-nobatch", env={"ASR_MODEL": "whisper_nobatch"}) as gw:
            rows = bench_throughput(gw.url, (1, 4, 8), 16)
            pairs = []
            for _ in range(_PAIRS if on_url is not None else 0):
                on = cast(float, bench_throughput(cast(str, on_url), (8,), 32)[0]["audio_sec_per_sec"])
                off = cast(float, bench_throughput(gw.url, (8,), 32)[0]["audio_sec_per_sec"])
                pairs.append({"on": on, "off": off, "ratio": round(on / off, 3)})
                print("batching on/off at 8 clients:", pairs[-1])
            return rows, pairs
    finally:
        httpx.delete(f"{ts.management_url}/models/whisper_nobatch", timeout=120)


def bench_engine(engine: str, tmp: Path) -> list[dict[str, object]]:
    """The same throughput run on a TorchServe whose whisper handler runs ``engine`` (WHISPER_ENGINE).

    Run it when no other stack is up: the two would share the cores."""
    from scripts.stack import torchserve

    with (
        torchserve(tmp / f"ts-{engine}", env={"WHISPER_ENGINE": engine}) as ts,
        gateway(ts, tmp / f"gw-{engine}") as gw,
    ):
        return bench_throughput(gw.url, (1, 4, 8), 16)


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


def main() -> None:
    """``python -m benchmarks.throughput``: batching on and off through the API in one run;
    ``--engines``: faster-whisper and openai-whisper side by side instead."""
    import argparse
    import tempfile

    from scripts.stack import torchserve

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--engines", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.engines:
            first = bench_engine("faster-whisper", Path(tmp))
            second = bench_engine("openai-whisper", Path(tmp))
            labels = ("faster-whisper", "openai-whisper")
        else:
            with (
                torchserve(Path(tmp) / "ts", extra_config={"enable_model_api": "true"}) as ts,
                gateway(ts, Path(tmp) / "gw") as gw,
            ):
                first = bench_throughput(gw.url, (1, 4, 8), 16)
                second, pairs = bench_without_batching(ts, Path(tmp), gw.url)
            labels = ("batching on", "off")
            print("in turn at 8 clients, on ÷ off:", " / ".join(f"{p['ratio']:.2f}" for p in pairs))
    for a, b in zip(first, second, strict=False):
        ratio = cast(float, a["audio_sec_per_sec"]) / cast(float, b["audio_sec_per_sec"])
        print(
            f"{a['concurrency']} clients: {labels[0]} {a['audio_sec_per_sec']} audio-s/s "
            f"(p95 {a['latency_p95_sec']} s), {labels[1]} {b['audio_sec_per_sec']} (p95 {b['latency_p95_sec']} s): "
            f"{ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
