"""The typed transcript both sides speak: Word, Segment, Transcription.

The whisper handler builds these from faster-whisper's results and sends
``to_dict()``; the gateway reads them back with ``from_dict`` (which refuses a
malformed answer), shifts them by a piece's offset, and its response models use
the same dataclasses, so the segment shape is written down once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["HALLUCINATION", "Segment", "Transcription", "Word", "within_audio"]


@dataclass(frozen=True)
class _Hallucination:
    """Whisper's own signs that a segment is not real speech (openai-whisper's transcribe defaults)."""

    max_compression_ratio: float = 2.4  # repetitive text compresses too well
    min_avg_logprob: float = -1.0  # with a high no-speech probability: the model is guessing


HALLUCINATION = _Hallucination()


def _r(value: float, digits: int) -> float:
    return round(float(value), digits)


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None  # set by diarization (gateway), never by the model

    def shifted(self, offset: float) -> Word:
        return replace(self, start=_r(self.start + offset, 3), end=_r(self.end + offset, 3))


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    seek: int = 0
    tokens: list[int] = field(default_factory=list)
    temperature: float | None = None
    compression_ratio: float | None = None
    words: list[Word] | None = None
    speaker: str | None = None  # set by diarization (gateway), never by the model

    def shifted(self, offset: float, new_id: int) -> Segment:
        """This segment ``offset`` seconds later in the file, renumbered."""
        words = None if self.words is None else [w.shifted(offset) for w in self.words]
        return replace(self, id=new_id, start=_r(self.start + offset, 3), end=_r(self.end + offset, 3), words=words)

    def looks_hallucinated(self, no_speech_threshold: float) -> bool:
        """True when Whisper's own signals say this text was not heard but made up."""
        if self.compression_ratio is not None and self.compression_ratio > HALLUCINATION.max_compression_ratio:
            return True
        return self.no_speech_prob > no_speech_threshold and self.avg_logprob < HALLUCINATION.min_avg_logprob


# Whisper's last timestamp may overshoot the audio's end by a few tenths of a second on real speech
# that ends the clip; an invented segment runs seconds past it.
_PAST_END_SEC = 1.0


def within_audio(segments: list[Segment], duration: float) -> tuple[list[Segment], list[str]]:
    """The segments Whisper can have heard in ``duration`` seconds of audio, and a warning if any were not.

    Whisper reads a 30 s window; past the audio it hears padding. Decoding a last window that is
    nearly all padding (a piece's final tenth of a second, more so when the temperature fallback
    samples it) can write text timed past the end: a damaged 40 s file once came back with 13 s of
    invented speech after its first piece's 20 s. A segment that starts after the end, or runs more
    than ``_PAST_END_SEC`` past it with most of its span there, is dropped (and the answer says so);
    the rest end, as their words do, at the audio's end at the latest.
    """

    def heard(s: Segment) -> bool:
        past = s.end - duration
        return s.start < duration and not (past > _PAST_END_SEC and past > (s.end - s.start) / 2)

    kept = [s for s in segments if heard(s)]
    end = _r(duration, 3)
    clamped = [
        replace(
            s,
            end=min(s.end, end),
            words=None
            if s.words is None
            else [replace(w, start=min(w.start, end), end=min(w.end, end)) for w in s.words],
        )
        for s in kept
    ]
    dropped = len(segments) - len(kept)
    warnings = [f"dropped {dropped} segment(s) timed past the end of the audio"] if dropped else []
    return clamped, warnings


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str | None
    language_probability: float | None
    duration: float
    model: str | None
    task: str
    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)  # e.g. damaged packets skipped while decoding

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for seg in out["segments"]:
            if seg["words"] is None:
                del seg["words"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcription:
        """Rebuild from ``to_dict()`` output; ValueError when a field is missing or mistyped."""
        try:
            segments = [_segment(s) for s in data["segments"]]
            return cls(
                text=str(data["text"]),
                language=None if data.get("language") is None else str(data["language"]),
                language_probability=_opt_float(data.get("language_probability")),
                duration=float(data["duration"]),
                model=None if data.get("model") is None else str(data["model"]),
                task=str(data.get("task", "transcribe")),
                segments=segments,
                warnings=[str(w) for w in data.get("warnings", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed transcription: {type(exc).__name__}") from exc


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _segment(data: Mapping[str, Any]) -> Segment:
    words = data.get("words")
    return Segment(
        id=int(data["id"]),
        start=float(data["start"]),
        end=float(data["end"]),
        text=str(data["text"]),
        avg_logprob=float(data["avg_logprob"]),
        no_speech_prob=float(data["no_speech_prob"]),
        seek=int(data.get("seek", 0)),
        tokens=[int(t) for t in data.get("tokens", [])],
        temperature=_opt_float(data.get("temperature")),
        compression_ratio=_opt_float(data.get("compression_ratio")),
        words=None if words is None else [_word(w) for w in words],
        speaker=_opt_str(data.get("speaker")),
    )


def _word(data: Mapping[str, Any]) -> Word:
    return Word(
        float(data["start"]),
        float(data["end"]),
        str(data["word"]),
        float(data["probability"]),
        _opt_str(data.get("speaker")),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
