"""What TorchServe hands a handler, reduced to what ours read and write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts.paths import ROOT


def built_model_dir(name: str) -> Path:
    path = ROOT / "model-store" / name
    if not (path / "MAR-INF" / "MANIFEST.json").is_file():
        pytest.fail(f"model-store/{name} is not built: run `python model-store/build.py` (make test does)")
    return path


def load_handler(handler_cls: type[Any], name: str) -> tuple[Any, Context]:
    """Initialise a handler the way TorchServe does, on the built archive of model ``name``."""
    import yaml

    model_dir = built_model_dir(name)
    ctx = Context(yaml.safe_load((model_dir / "model-config.yaml").read_text()), model_dir)
    handler = handler_cls()
    handler.initialize(ctx)
    return handler, ctx


class Context:
    def __init__(self, yaml_config: dict[str, Any], model_dir: Path) -> None:
        self.model_yaml_config = yaml_config
        self.system_properties = {"model_dir": str(model_dir)}
        self.statuses: dict[int, tuple[int, str]] = {}
        self.content_types: dict[int, str] = {}

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.statuses[idx] = (code, phrase)

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.content_types[idx] = value
