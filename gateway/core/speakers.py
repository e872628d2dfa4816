"""Speaker verification arithmetic: ids, references from samples, scores and decisions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateway.core.errors import InvalidRequest

__all__ = ["Verdict", "check_speaker_id", "reference_of", "score", "verdict"]

_SPEAKER_ID = re.compile(r"[\w][\w.\-@]{0,63}")


def check_speaker_id(speaker_id: str) -> str:
    if not isinstance(speaker_id, str) or not _SPEAKER_ID.fullmatch(speaker_id):
        raise InvalidRequest("speaker_id must be 1-64 letters, digits, '_', '-', '.', '@' (not starting with a symbol)")
    return speaker_id


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise InvalidRequest("embedding has no direction")
    return vector / norm


def reference_of(samples: Sequence[np.ndarray]) -> np.ndarray:
    """A speaker's reference: the normalised mean of its samples' unit embeddings."""
    if not samples:
        raise ValueError("no samples")
    return _unit(np.mean([_unit(np.asarray(s, dtype=np.float32)) for s in samples], axis=0))


def score(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity in [-1, 1]."""
    return float(np.dot(_unit(np.asarray(a, dtype=np.float32)), _unit(np.asarray(b, dtype=np.float32))))


@dataclass(frozen=True)
class Verdict:
    score: float
    decision: bool
    threshold: float


def verdict(a: np.ndarray, b: np.ndarray, threshold: float) -> Verdict:
    value = round(score(a, b), 4)
    return Verdict(value, value >= threshold, threshold)
