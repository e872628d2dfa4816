"""Handler settings: the ``handler:`` block of model-config.yaml, overridable by env.

A deployment points a model at other weights or another device by setting, e.g.,
``WHISPER_MODEL_PATH=/models/large-v3`` in TorchServe's environment; no code change.
The dataclass defaults are the one home of each default: model-config.yaml names
only what a deployment is expected to change.
"""

from __future__ import annotations

import os
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

from wire.options import parse_bool

__all__ = ["load_options"]

T = TypeVar("T")


def _coerce(value: Any, kind: type) -> Any:
    if kind is bool:
        return parse_bool(value)
    return kind(value)


def load_options(cls: type[T], yaml_block: dict[str, Any] | None, env_prefix: str) -> T:
    """Build the dataclass ``cls`` from yaml values, then ``<PREFIX>_<FIELD>`` env vars."""
    assert is_dataclass(cls)
    values: dict[str, Any] = {}
    block = yaml_block or {}
    for f in fields(cls):
        kind = type(f.default) if f.default is not None else str
        raw = os.environ.get(f"{env_prefix}_{f.name}".upper(), block.get(f.name))
        if raw is not None:
            values[f.name] = _coerce(raw, kind)
    return cls(**values)
