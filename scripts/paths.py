"""Where things are, for the tests, benchmarks and dev scripts (not used by the service)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Real recordings with transcripts (shared/data beside the checkout); never copied into the repo.
DATA_DIR = Path(os.environ.get("AUDIO_CORE_DATA", ROOT.parent / "shared" / "data"))
WHISPER_WEIGHTS = ROOT / "model-store" / "weights" / "whisper-base"
