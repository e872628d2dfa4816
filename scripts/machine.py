"""A short description of the machine a benchmark ran on, for its results file."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path


def describe() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("\n", 1)[0].split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    try:
        import ctranslate2

        gpus = ctranslate2.get_cuda_device_count()
    except ImportError:
        gpus = 0
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "gpus": str(gpus),
        "os": platform.platform(),
        "python": platform.python_version(),
        "faster-whisper": version("faster-whisper"),
        "ctranslate2": version("ctranslate2"),
        "torchserve": version("torchserve"),
    }
