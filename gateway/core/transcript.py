"""Stitch per-piece model results into one transcript, and render subtitle formats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["merge_pieces", "to_srt", "to_vtt", "transcript_text"]

_TIME_KEYS = ("start", "end")


def _shift(item: dict[str, Any], offset: float) -> dict[str, Any]:
    out = dict(item)
    for key in _TIME_KEYS:
        if key in out:
            out[key] = round(out[key] + offset, 3)
    return out


def transcript_text(segments: Sequence[dict[str, Any]]) -> str:
    return "".join(seg["text"] for seg in segments).strip()


def merge_pieces(results: Sequence[tuple[float, dict[str, Any]]], duration: float) -> dict[str, Any]:
    """Combine (offset_sec, model_result) pairs in time order into one result dict."""
    if not results:
        raise ValueError("no results to merge")
    segments: list[dict[str, Any]] = []
    for offset, result in results:
        for seg in result.get("segments", []):
            shifted = _shift(seg, offset)
            shifted["id"] = len(segments)
            if "words" in seg:
                shifted["words"] = [_shift(w, offset) for w in seg["words"]]
            segments.append(shifted)
    # The language of the piece the model was surest about speaks for the file.
    first = max((r for _, r in results), key=lambda r: r.get("language_probability", 0.0))
    return {
        "text": transcript_text(segments),
        "language": first.get("language"),
        "language_probability": first.get("language_probability"),
        "duration": round(duration, 3),
        "model": next((r["model"] for _, r in results if r.get("model")), None),
        "task": first.get("task", "transcribe"),
        "segments": segments,
    }


def _timestamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(segments: Sequence[dict[str, Any]]) -> str:
    blocks = [
        f"{i}\n{_timestamp(s['start'], ',')} --> {_timestamp(s['end'], ',')}\n{s['text'].strip()}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Sequence[dict[str, Any]]) -> str:
    blocks = [f"{_timestamp(s['start'], '.')} --> {_timestamp(s['end'], '.')}\n{s['text'].strip()}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)
