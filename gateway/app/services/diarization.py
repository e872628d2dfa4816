"""Diarization: windows embedded by the speaker model, clustered, turned into turns, named from the store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from gateway.app.services.speakers import Speakers
from gateway.core.config import SAMPLE_RATE, Settings
from gateway.core.diarization import (
    Turn,
    cluster,
    name_clusters,
    relabel_by_reference,
    smooth,
    speaker_at,
    turns,
    window_spans,
)
from gateway.core.errors import InvalidRequest
from gateway.core.speakers import check_speaker_id
from wire.transcript import Transcription

__all__ = ["Diarization", "DiarizeOptions", "Diarizer", "SpeakerSummary"]

MAX_SPEAKERS = 20
# A window joins the cluster an enrolled voice names when it scores at least this against that voice
# (measured on the built conversations: 0.5 gains most with every speaker enrolled, 7.5 % -> 6.8 % DER,
# but pulls an unenrolled speaker into the enrolled ones, 21.6 %; 0.7 is safe either way).
_RELABEL_FLOOR = 0.7


@dataclass(frozen=True)
class DiarizeOptions:
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    known_speakers: list[str] | None = None  # enrolled ids to name clusters from; [] with all_known: every one
    all_known: bool = False

    @classmethod
    def parse(
        cls,
        num_speakers: int | None,
        min_speakers: int | None,
        max_speakers: int | None,
        known_speakers: str | None,
    ) -> DiarizeOptions:
        """Validated options; InvalidRequest (400) names the field at fault."""
        for name, value in (
            ("num_speakers", num_speakers),
            ("min_speakers", min_speakers),
            ("max_speakers", max_speakers),
        ):
            if value is not None and not 1 <= value <= MAX_SPEAKERS:
                raise InvalidRequest(f"{name} must be between 1 and {MAX_SPEAKERS}")
        if num_speakers is not None and (min_speakers is not None or max_speakers is not None):
            raise InvalidRequest("send num_speakers or min_speakers/max_speakers, not both")
        if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
            raise InvalidRequest("min_speakers must not exceed max_speakers")
        known: list[str] | None = None
        all_known = False
        if known_speakers is not None and known_speakers.strip():
            if known_speakers.strip() == "all":
                all_known = True
            else:
                known = [check_speaker_id(s.strip()) for s in known_speakers.split(",") if s.strip()]
                if len(known) > 1000:
                    raise InvalidRequest("known_speakers names at most 1000 speakers")
        return cls(num_speakers, min_speakers, max_speakers, known, all_known)


@dataclass(frozen=True)
class SpeakerSummary:
    label: str
    speaker_id: str | None
    score: float | None
    speech_sec: float


@dataclass(frozen=True)
class Diarization:
    turns: list[Turn]
    names: dict[int, str]  # cluster -> label shown to the client
    speakers: list[SpeakerSummary]

    def label_of(self, cluster_index: int | None) -> str | None:
        return None if cluster_index is None else self.names.get(cluster_index)


def letters(n: int) -> str:
    """A, B, ..., Z, AA, AB, ...: OpenAI's names for unnamed speakers."""
    name = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def speaker_turns(result: Transcription) -> list[tuple[float, float, str, str]]:
    """(start, end, speaker, text) per run of consecutive words of one speaker (needs word times)."""
    runs: list[tuple[float, float, str, str]] = []
    for word in (w for s in result.segments for w in s.words or []):
        speaker = word.speaker or ""
        if runs and runs[-1][2] == speaker:
            start, _, _, text = runs[-1]
            runs[-1] = (start, word.end, speaker, text + word.word)
        else:
            runs.append((word.start, word.end, speaker, word.word))
    return [(a, b, s, t.strip()) for a, b, s, t in runs]


def with_speakers(result: Transcription, diarization: Diarization) -> Transcription:
    """Every word (and segment) labelled with the speaker whose turn covers most of it: turns change on
    word boundaries, never inside a word."""
    segments = []
    for seg in result.segments:
        words = None
        if seg.words is not None:
            words = [
                replace(w, speaker=diarization.label_of(speaker_at(diarization.turns, w.start, w.end)))
                for w in seg.words
            ]
        if words:
            spoken: dict[str, float] = {}
            for w in words:
                if w.speaker is not None:
                    spoken[w.speaker] = spoken.get(w.speaker, 0.0) + (w.end - w.start)
            label = max(spoken, key=lambda k: spoken[k]) if spoken else None
        else:
            label = diarization.label_of(speaker_at(diarization.turns, seg.start, seg.end))
        segments.append(replace(seg, words=words, speaker=label))
    return replace(result, segments=segments)


class Diarizer:
    def __init__(self, settings: Settings, speakers: Speakers) -> None:
        self._settings = settings
        self._speakers = speakers

    async def diarize(
        self,
        tenant: str,
        audio: np.ndarray,
        options: DiarizeOptions,
        voices: dict[str, np.ndarray] | None = None,
        unnamed: Callable[[int], str] = "SPEAKER_{:02d}".format,
    ) -> Diarization:
        """Who spoke when in 16 kHz mono ``audio``; silence or noise alone gives no turns.

        Clusters are named from ``voices`` (name -> embedding) when given, else from the enrolled
        speakers the options name; the rest are ``unnamed`` numbered in order of appearance.
        """
        wanted = options.known_speakers if not options.all_known else None
        if voices is not None:
            references = voices
        elif options.all_known or options.known_speakers:
            references = await self._speakers.references(tenant, wanted)  # 404 naming an unknown id, first
        else:
            references = {}
        spans = window_spans(len(audio) / SAMPLE_RATE)
        if not spans:
            return Diarization([], {}, [])
        embedded = await self._speakers.embed_spans(audio, spans)
        vectors_by_window = {i: e for i, e in enumerate(embedded) if e is not None}
        voiced = list(vectors_by_window)
        labels = np.full(len(spans), -1, dtype=int)
        if voiced:
            vectors = np.stack(list(vectors_by_window.values()))
            labels[voiced] = await asyncio.to_thread(
                cluster,
                vectors,
                self._settings.DIARIZE_MERGE_THRESHOLD,
                options.num_speakers,
                options.min_speakers or 1,
                options.max_speakers or MAX_SPEAKERS,
            )
        centroids = {
            int(label): np.mean([v for i, v in vectors_by_window.items() if labels[i] == label], axis=0)
            for label in sorted({int(x) for x in labels[voiced]})
        }
        named = (
            name_clusters(centroids, references, self._settings.SPEAKER_THRESHOLD)
            if references
            else {label: (None, None) for label in centroids}
        )
        if voiced and references:
            by_id = {sid: label for label, (sid, _) in named.items() if sid is not None}
            labels[voiced] = relabel_by_reference(vectors, labels[voiced], by_id, references, _RELABEL_FLOOR)
        return _named_turns(turns(spans, smooth(labels.tolist())), named, unnamed)


def _named_turns(
    turn_list: list[Turn], named: Mapping[int, tuple[str | None, float | None]], unnamed: Callable[[int], str]
) -> Diarization:
    """Each cluster's name (its enrolled speaker's id, else the next ``unnamed`` in order of first
    appearance) and how long it spoke."""
    names: dict[int, str] = {}
    count = 0
    present = list(dict.fromkeys(t.label for t in turn_list))  # in order of first appearance
    for label in present:
        speaker_id = named[label][0]
        if speaker_id is None:
            names[label] = unnamed(count)
            count += 1
        else:
            names[label] = speaker_id
    speech = dict.fromkeys(present, 0.0)
    for turn in turn_list:
        speech[turn.label] += turn.end - turn.start
    summary = [
        SpeakerSummary(names[label], named[label][0], named[label][1], round(speech[label], 3)) for label in present
    ]
    return Diarization(turn_list, names, summary)
