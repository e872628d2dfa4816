"""The part every TorchServe handler here shares: config, loading, per-item errors.

TorchServe hands ``handle`` a batch and expects a list of the same length. One
bad clip must not fail its neighbours, so each item is decoded on its own, the
good ones run together, and a failure becomes that item's own status code via
``context.set_response_status(code, phrase, idx)``.

A model's handler module defines one subclass of ``AudioModelHandler`` (TorchServe
instantiates the single class a handler file defines) and fills in ``load``,
``prepare`` and ``infer``; the model logic itself lives in plain modules.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from handlers.common.options import load_options
from handlers.common.payload import BadRequest

__all__ = ["AudioModelHandler", "ItemError", "run_batch"]

log = logging.getLogger(__name__)


class ItemError(Exception):
    """A failure that belongs to one item, with the status code to answer it with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def as_item_error(exc: BaseException) -> ItemError:
    if isinstance(exc, ItemError):
        return exc
    if isinstance(exc, BadRequest):
        return ItemError(400, str(exc))
    log.error("inference failed", exc_info=exc)
    return ItemError(500, "inference failed")


class AudioModelHandler:
    config_cls: ClassVar[type]
    env_prefix: ClassVar[str]
    content_type: ClassVar[str | None] = None  # set for binary answers (e.g. audio/wav)

    def __init__(self) -> None:
        self.initialized = False

    def initialize(self, context: Any) -> None:
        yaml_block = (getattr(context, "model_yaml_config", None) or {}).get("handler")
        config: Any = load_options(self.config_cls, yaml_block, self.env_prefix)
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

    # Filled in per model --------------------------------------------------------
    def load(self, config: Any, model_dir: str, gpu_id: int | None) -> None:
        raise NotImplementedError

    def prepare(self, item: Any) -> Any:
        """Decode and validate one request item; raise BadRequest to reject it."""
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
        except (BadRequest, ItemError) as exc:
            results[idx] = _fail(context, idx, as_item_error(exc))
    if ready:
        outputs = infer([prepared for _, prepared in ready])
        for (idx, _), out in zip(ready, outputs, strict=True):
            results[idx] = _fail(context, idx, as_item_error(out)) if isinstance(out, BaseException) else out
    return results


def _fail(context: Any, idx: int, err: ItemError) -> dict[str, str]:
    log.info("item %d rejected: %s", idx, err.message)
    if context is not None and hasattr(context, "set_response_status"):
        context.set_response_status(code=err.code, phrase=err.message, idx=idx)
    return {"detail": err.message}
