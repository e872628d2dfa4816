"""Docs that cannot drift: every setting is in the README, every route is described, /docs and /redoc load."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from gateway.core.config import Settings
from handlers.enhancer.denoise import EnhancerConfig
from handlers.speaker_embedding.embedding import SpeakerConfig
from handlers.whisper.asr import WhisperConfig
from scripts.paths import ROOT
from tests.gateway.app_client import app_client


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in readme]
    for config in (WhisperConfig, EnhancerConfig, SpeakerConfig):
        missing += [f"{config.__name__}.{f.name}" for f in fields(config) if f"`{f.name}`" not in readme]
    assert missing == []
    assert "make up" in readme and "make test" in readme


def test_every_route_is_described_and_typed(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        spec = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
        assert client.get("/redoc").status_code == 200
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("description"), f"{method.upper()} {path} has no description"
            success = {"200", "202"} & set(op["responses"])  # 202: a job, accepted
            assert success, f"{method.upper()} {path} has no success response"
