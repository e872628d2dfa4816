"""The whisper model's worker processes as TorchServe runs them: how many, and with which OpenMP setting."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from scripts.paths import model_config
from scripts.stack import TorchServe


def _ready_workers(ts: TorchServe, model: str, wanted: int, timeout: float = 120) -> list[dict[str, Any]]:
    """The model's workers once ``wanted`` of them are ready (another test may have killed one)."""
    deadline = time.monotonic() + timeout
    while True:
        workers = httpx.get(f"{ts.management_url}/models/{model}", timeout=10).json()[0]["workers"]
        ready = [w for w in workers if w["status"] == "READY"]
        if len(ready) >= wanted or time.monotonic() > deadline:
            return ready
        time.sleep(1)


def test_whisper_runs_its_configured_workers_with_sleeping_openmp_threads(ts_server: TorchServe) -> None:
    wanted = model_config("whisper")["minWorkers"]
    workers = _ready_workers(ts_server, "whisper", wanted)
    assert wanted >= 2 and len(workers) == wanted
    for worker in workers:
        environ = Path(f"/proc/{worker['pid']}/environ").read_bytes().split(b"\0")
        # a finished worker's spinning OpenMP threads slowed the other (openai-whisper: 2.5x)
        assert b"OMP_WAIT_POLICY=PASSIVE" in environ
