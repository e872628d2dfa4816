"""A short locust run (REST and WebSocket users) against the real stack: no failures, no 5xx."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from scripts.paths import ROOT
from scripts.stack import Gateway


def test_locust_smoke(gw: Gateway, tmp_path: Path) -> None:
    prefix = tmp_path / "smoke"
    cmd = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
        "--headless", "--users", "3", "--spawn-rate", "3", "--run-time", "30s",
        "--host", gw.url, "--csv", str(prefix), "--only-summary", "--stop-timeout", "60",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        stats = {row["Name"]: row for row in csv.DictReader(fh)}
    with open(f"{prefix}_failures.csv", newline="") as fh:
        failures = list(csv.DictReader(fh))
    assert int(stats["Aggregated"]["Request Count"]) >= 5, result.stderr[-2000:]
    assert failures == [], failures
    assert any(name.startswith("/ws/asr") for name in stats) or any(name.startswith("/audio") for name in stats)
