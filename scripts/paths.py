"""Where things are, for the tests, benchmarks and dev scripts (not used by the service)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Real recordings with transcripts (shared/data beside the checkout); never copied into the repo.
DATA_DIR = Path(os.environ.get("AUDIO_CORE_DATA", ROOT.parent / "shared" / "data"))
WHISPER_WEIGHTS = ROOT / "model-store" / "weights" / "whisper-base"


def model_config(handler: str) -> dict[str, Any]:
    """The TorchServe model-config.yaml of ``handler`` (a folder of handlers/), as a dict."""
    import yaml

    config: dict[str, Any] = yaml.safe_load((ROOT / "handlers" / handler / "model-config.yaml").read_text())
    return config
