"""Diarization and identification quality through the API (part of `make eval`).

DER with pyannote.metrics on: the conversations of eval/conversations.py (collar 0.25 s), blind and
with every speaker enrolled; pyannote's sample.wav (collar 0); the AMI excerpts dev00/dev01 in their
UEM regions (collar 0 and 0.25). 1:N identification: top-1 on enrolled speakers and rejection of
unenrolled probes at the threshold. Cost: diarize=true against a plain transcription of the same audio.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from eval.conversations import LIBRI, build_conversations, enrollment_clip
from wire.audio import read_audio_file
from wire.pcm import to_wav

__all__ = ["eval_diarization"]

PYANNOTE = "pyannote__pyannote-audio"
SPEAKERS = ("1688", "1998", "2033", "2414", "2609", "3005")


def _annotation(rows: list[tuple[float, float, str]]) -> Any:
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for start, end, speaker in rows:
        annotation[Segment(start, end)] = speaker
    return annotation


def _rttm(path: Path, file_id: str) -> list[tuple[float, float, str]]:
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER" and parts[1] == file_id:
            start, duration = float(parts[3]), float(parts[4])
            rows.append((start, start + duration, parts[7]))
    return rows


def _diarize(client: httpx.Client, audio: np.ndarray, **params: str) -> dict[str, Any]:
    r = client.post("/audio/diarize", params=params, files={"file": ("a.wav", to_wav(audio, 16000))})
    r.raise_for_status()
    return dict(r.json())


def _segments(body: dict[str, Any]) -> list[tuple[float, float, str]]:
    return [(s["start"], s["end"], s["speaker"]) for s in body["segments"]]


def eval_diarization(client: httpx.Client, data_dir: Path) -> dict[str, Any]:
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    for speaker in SPEAKERS:
        clip = enrollment_clip(data_dir, speaker)
        client.post(
            "/speaker/enroll",
            params={"replace": "true"},
            data={"speaker_id": f"eval-{speaker}"},
            files={"file": (clip.name, clip.read_bytes())},
        ).raise_for_status()
    conversations = build_conversations(data_dir, count=12)
    blind, enrolled = DiarizationErrorRate(collar=0.25), DiarizationErrorRate(collar=0.25)
    counted = 0
    for conv in conversations:
        reference = _annotation(conv.turns)
        body = _diarize(client, conv.audio)
        blind(reference, _annotation(_segments(body)))
        counted += len(body["speakers"]) == len(conv.speakers)
        named = _diarize(client, conv.audio, known_speakers="all")
        enrolled(reference, _annotation([(a, b, s.removeprefix("eval-")) for a, b, s in _segments(named)]))
    result: dict[str, Any] = {
        "conversations": len(conversations),
        "der_blind": round(abs(blind), 4),
        "der_enrolled": round(abs(enrolled), 4),
        "count_right": counted,
    }
    sample = read_audio_file(data_dir / PYANNOTE / "sample.wav", 16000).samples
    reference = _annotation(_rttm(data_dir / PYANNOTE / "sample.rttm", "sample"))
    for key, params in (("sample_der_blind", {}), ("sample_der_2_speakers", {"num_speakers": "2"})):
        result[key] = round(
            abs(
                DiarizationErrorRate(collar=0.0)(reference, _annotation(_segments(_diarize(client, sample, **params))))
            ),
            4,
        )
    ami: dict[str, dict[str, float]] = {}
    rttm = data_dir / PYANNOTE / "tests_data" / "debug.development.rttm"
    for file_id in ("dev00", "dev01"):
        audio = read_audio_file(data_dir / PYANNOTE / "tests_data" / f"{file_id}.wav", 16000).samples
        hypothesis = _annotation(_segments(_diarize(client, audio)))
        reference = _annotation(_rttm(rttm, file_id))
        uem = Timeline([Segment(0.0, 30.0)])
        ami[file_id] = {
            f"collar_{c}": round(abs(DiarizationErrorRate(collar=c)(reference, hypothesis, uem=uem)), 4)
            for c in (0.0, 0.25)
        }
    result["ami"] = ami
    result["identification"] = _identification(client, data_dir)
    result["cost"] = _cost(client, conversations[0].audio)
    return result


def _identification(client: httpx.Client, data_dir: Path) -> dict[str, float]:
    utterances = {s: sorted((data_dir / LIBRI / s).glob("*.flac"))[:9] for s in SPEAKERS}
    half = [f"eval-{s}" for s in SPEAKERS[:3]]
    right = total = rejected = strangers = 0
    for speaker, clips in utterances.items():
        for clip in clips:
            files = {"probe": (clip.name, clip.read_bytes())}
            everyone = client.post("/speaker/identify", files=files).json()
            total += 1
            right += everyone["speaker_id"] == f"eval-{speaker}"
            if f"eval-{speaker}" not in half:  # an unenrolled voice, among the other half
                some = client.post("/speaker/identify", data={"candidates": ",".join(half)}, files=files).json()
                strangers += 1
                rejected += some["speaker_id"] is None
    return {"top1": round(right / total, 4), "probes": total, "unenrolled_rejected": round(rejected / strangers, 4)}


def _cost(client: httpx.Client, audio: np.ndarray, runs: int = 5) -> dict[str, float]:
    """Median wall time of a transcription with and without diarize=true, the two interleaved.

    One timed pair swung from +29 % to +51 % between runs on this 2-core machine; medians do not.
    """
    data = to_wav(audio, 16000)
    modes = {"plain": {"language": "en"}, "diarize": {"language": "en", "diarize": "true"}}
    samples: dict[str, list[float]] = {key: [] for key in modes}
    for i in range(runs + 1):
        for key, params in modes.items():
            started = time.perf_counter()
            client.post("/audio/transcribe", params=params, files={"file": ("c.wav", data)}).raise_for_status()
            if i:  # the first pair warms both paths up
                samples[key].append(time.perf_counter() - started)
    times = {key: round(statistics.median(values), 3) for key, values in samples.items()}
    times["added"] = round(times["diarize"] / times["plain"] - 1, 4)
    times["runs"] = runs
    return times
