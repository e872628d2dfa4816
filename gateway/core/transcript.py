"""Stitch per-piece model results into one transcript, and render subtitle formats."""

from __future__ import annotations

from collections.abc import Sequence

from wire.transcript import Segment, Transcription

__all__ = ["merge_pieces", "silent_piece", "to_srt", "to_vtt", "transcript_text"]


def transcript_text(segments: Sequence[Segment]) -> str:
    return "".join(seg.text for seg in segments).strip()


def silent_piece(duration: float, language: str | None, task: str) -> Transcription:
    """The result of a piece that never went to the model because it holds no sound."""
    return Transcription("", language, 0.0, round(duration, 3), None, task, [])


def merge_pieces(
    results: Sequence[tuple[float, Transcription]], duration: float, warnings: Sequence[str] = ()
) -> Transcription:
    """Combine (offset_sec, piece result) pairs in time order into one transcription of the file."""
    if not results:
        raise ValueError("no results to merge")
    segments: list[Segment] = []
    for offset, result in results:
        for seg in result.segments:
            segments.append(seg.shifted(offset, len(segments)))
    # The language of the piece the model was surest about speaks for the file.
    surest = max((r for _, r in results), key=lambda r: r.language_probability or 0.0)
    return Transcription(
        text=transcript_text(segments),
        language=surest.language,
        language_probability=surest.language_probability,
        duration=round(duration, 3),
        model=next((r.model for _, r in results if r.model), None),
        task=surest.task,
        segments=segments,
        warnings=[*warnings, *(w for _, r in results for w in r.warnings)],
    )


def _timestamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{i}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text.strip()}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Sequence[Segment]) -> str:
    blocks = [f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)
