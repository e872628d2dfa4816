"""The one text normaliser for WER here: lower case, ё→е, digits spelled out in the clip's language
(num2words), punctuation dropped, whitespace folded. Used by the tests and by `make eval`."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "wer"]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _spell(match: re.Match[str], language: str, to: str = "cardinal") -> str:
    from num2words import num2words

    text = match.group(1 if match.groups() else 0).replace(",", ".")
    try:
        return " " + str(num2words(float(text) if "." in text else int(text), lang=language, to=to)) + " "
    except (NotImplementedError, OverflowError, ValueError):
        return f" {text} "


def normalize(text: str, language: str = "en") -> str:
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    text = re.sub(r"(\d+)(?:st|nd|rd|th)\b", lambda m: _spell(m, language, "ordinal"), text)
    text = _NUMBER.sub(lambda m: _spell(m, language), text)
    text = text.replace("ё", "е")
    text = re.sub(r"[^\w\s']|_", " ", text)
    return " ".join(text.replace("'", "").replace("-", " ").split())


def wer(references: list[str], hypotheses: list[str], language: str = "en") -> float:
    """Corpus WER over pairs; pairs whose normalised reference is empty are skipped."""
    import jiwer

    pairs = [(normalize(r, language), normalize(h, language)) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [(r, h) for r, h in pairs if r]
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))
