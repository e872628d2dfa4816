"""WER for the tests: the project's one normaliser (eval/textnorm.py)."""

from __future__ import annotations

from eval.textnorm import normalize, wer

__all__ = ["normalize", "wer"]
