"""Word error rate with one normaliser, shared by the ASR tests."""

from __future__ import annotations

import re
import unicodedata

import jiwer


def normalize(text: str) -> str:
    """Lower case, ё→е, punctuation dropped, whitespace folded."""
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    text = re.sub(r"[^\w\s']|_", " ", text)
    return " ".join(text.replace("'", "").split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER over pairs; an empty normalised reference is skipped."""
    pairs = [(normalize(r), normalize(h)) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [(r, h) for r, h in pairs if r]
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))
