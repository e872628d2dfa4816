"""Shared fixtures: where the real speech lives, and how to read its manifest."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.paths import DATA_DIR
from scripts.paths import WHISPER_WEIGHTS as WHISPER_DIR


@dataclass(frozen=True)
class Clip:
    path: Path
    language: str
    transcript: str
    duration: float


def manifest() -> list[Clip]:
    with (DATA_DIR / "manifest.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        Clip(DATA_DIR / r["file"], r["language"], r["transcript"], float(r["duration_s"]))
        for r in rows
        if r["duration_s"] and r["category"] != "meta"
    ]


def clips(prefix: str, limit: int | None = None) -> list[Clip]:
    found = [c for c in manifest() if str(c.path.relative_to(DATA_DIR)).startswith(prefix) and c.transcript]
    return found[:limit]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "manifest.csv").is_file():
        pytest.fail(f"test recordings not found at {DATA_DIR} (set AUDIO_CORE_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def jfk(data_dir: Path) -> Path:
    return data_dir / "openai__whisper" / "jfk.flac"


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    if not (WHISPER_DIR / "model.bin").is_file():
        pytest.fail("Whisper weights are not assembled: run `python model-store/build.py` (make test does)")
    return WHISPER_DIR
