"""The part every TorchServe handler here shares: config, loading, decoding, per-item errors.

TorchServe hands ``handle`` a batch and expects a list of the same length. One
bad clip must not fail its neighbours, so each item is decoded on its own, the
good ones run together, and a failure becomes that item's own status code via
``context.set_response_status(code, phrase, idx)`` and a ``{"detail", "kind"}``
body (``wire.errors``), which the gateway maps without reading the prose.

A model's handler module defines one subclass of ``AudioModelHandler`` (TorchServe
instantiates the single class a handler file defines) and fills in ``load``,
``prepare`` and ``infer``; the model logic itself lives in plain modules.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from handlers.common.options import load_options
from wire.audio import DecodeLimits
from wire.envelope import ModelRequest, read_request
from wire.errors import ErrorKind, WireError, error_body

__all__ = ["AudioModelHandler", "run_batch"]

log = logging.getLogger(__name__)


def as_wire_error(exc: BaseException) -> WireError:
    if isinstance(exc, WireError):
        return exc
    log.error("inference failed", exc_info=exc)
    return WireError(ErrorKind.INTERNAL, "inference failed")


class AudioModelHandler:
    config_cls: ClassVar[type]
    env_prefix: ClassVar[str]
    content_type: ClassVar[str | None] = None  # set for binary answers (e.g. audio/wav)
    sample_rate: ClassVar[int | None] = None  # the rate the model wants; None keeps the caller's

    def __init__(self) -> None:
        self.initialized = False

    def initialize(self, context: Any) -> None:
        yaml_block = (getattr(context, "model_yaml_config", None) or {}).get("handler")
        config: Any = load_options(self.config_cls, yaml_block, self.env_prefix)
        # The same decode budget as the gateway's: TorchServe is reachable on its own too.
        self.limits = DecodeLimits(max_seconds=config.max_audio_sec)
        props = context.system_properties
        gpu_id = props.get("gpu_id")
        self.load(config, props.get("model_dir", "."), int(gpu_id) if gpu_id is not None else None)
        self.initialized = True

    def handle(self, data: Sequence[Any], context: Any) -> list[Any]:
        results = run_batch(data, context, self.prepare, self.infer)
        if self.content_type and hasattr(context, "set_response_content_type"):
            for idx, result in enumerate(results):
                if isinstance(result, (bytes, bytearray)):
                    context.set_response_content_type(idx, self.content_type)
        return results

    def read(self, item: Any) -> ModelRequest:
        """Decode one request item within this model's limits, at its rate."""
        return read_request(item, self.limits, self.sample_rate)

    # Filled in per model --------------------------------------------------------
    def load(self, config: Any, model_dir: str, gpu_id: int | None) -> None:
        raise NotImplementedError

    def prepare(self, item: Any) -> Any:
        """Decode and validate one request item; raise WireError to reject it."""
        raise NotImplementedError

    def infer(self, jobs: list[Any]) -> list[Any]:
        """Run prepared items; return one result (or exception) per job. Default: one at a time."""
        results: list[Any] = []
        for job in jobs:
            try:
                results.append(self.run_one(job))
            except Exception as exc:  # noqa: BLE001 - answered per item by run_batch
                results.append(exc)
        return results

    def run_one(self, job: Any) -> Any:
        raise NotImplementedError


def run_batch(data: Sequence[Any], context: Any, prepare: Any, infer: Any) -> list[Any]:
    """Prepare each item, run the good ones together, answer the bad ones with their own code."""
    results: list[Any] = [None] * len(data)
    ready: list[tuple[int, Any]] = []
    for idx, item in enumerate(data):
        try:
            ready.append((idx, prepare(item)))
        except WireError as exc:
            results[idx] = _fail(context, idx, exc)
    if ready:
        outputs = infer([prepared for _, prepared in ready])
        for (idx, _), out in zip(ready, outputs, strict=True):
            results[idx] = _fail(context, idx, as_wire_error(out)) if isinstance(out, BaseException) else out
    return results


def _fail(context: Any, idx: int, err: WireError) -> dict[str, str]:
    log.info("item %d rejected (%s): %s", idx, err.kind.value, err.detail)
    if context is not None and hasattr(context, "set_response_status"):
        context.set_response_status(code=err.status, phrase=err.detail, idx=idx)
    return error_body(err)
