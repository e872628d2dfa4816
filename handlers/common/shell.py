"""The part every TorchServe handler here shares: per-item errors in a batch.

TorchServe hands ``handle`` a batch and expects a list of the same length. One
bad clip must not fail its neighbours, so each item is decoded and run on its
own, and a failure becomes that item's own status code via
``context.set_response_status(code, phrase, idx)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from handlers.common.payload import BadRequest

__all__ = ["ItemError", "run_batch"]

log = logging.getLogger(__name__)


class ItemError(Exception):
    """A failure that belongs to one item, with the status code to answer it with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run_batch(
    batch: Sequence[Any],
    context: Any,
    prepare: Callable[[Any], Any],
    infer: Callable[[list[Any]], list[Any]],
) -> list[Any]:
    """Prepare each item, run the good ones together, answer the bad ones with 4xx/5xx."""
    results: list[Any] = [None] * len(batch)
    ready: list[tuple[int, Any]] = []
    for idx, item in enumerate(batch):
        try:
            ready.append((idx, prepare(item)))
        except BadRequest as exc:
            results[idx] = _fail(context, idx, ItemError(400, str(exc)))
        except ItemError as exc:
            results[idx] = _fail(context, idx, exc)
    if ready:
        outputs = infer([prepared for _, prepared in ready])
        for (idx, _), out in zip(ready, outputs, strict=True):
            if isinstance(out, ItemError):
                results[idx] = _fail(context, idx, out)
            else:
                results[idx] = out
    return results


def _fail(context: Any, idx: int, err: ItemError) -> dict[str, str]:
    log.info("item %d rejected: %s", idx, err.message)
    if context is not None and hasattr(context, "set_response_status"):
        context.set_response_status(code=err.code, phrase=err.message, idx=idx)
    return {"detail": err.message}
