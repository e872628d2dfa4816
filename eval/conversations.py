"""Conversations built from the six LibriSpeech speakers of shared/data, with their reference turns.

Each has 2-4 speakers taking turns of 2-15 s (cut from their utterances) with 0.2-0.8 s pauses;
utterance 9 of every speaker is kept out of the conversations, for enrolling that speaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wire.audio import read_audio_file

__all__ = ["LIBRI", "Conversation", "build_conversations", "enrollment_clip"]

LIBRI = "resemble-ai__Resemblyzer/librispeech_test-other"
SR = 16000
ENROLL_INDEX = 9


@dataclass(frozen=True)
class Conversation:
    name: str
    audio: np.ndarray
    turns: list[tuple[float, float, str]]  # start, end, speaker
    speakers: list[str]


def _utterances(data_dir: Path) -> dict[str, list[Path]]:
    root = data_dir / LIBRI
    return {d.name: sorted(d.glob("*.flac")) for d in sorted(root.iterdir()) if d.is_dir()}


def enrollment_clip(data_dir: Path, speaker: str) -> Path:
    return _utterances(data_dir)[speaker][ENROLL_INDEX]


def build_conversations(data_dir: Path, count: int = 12, seed: int = 0, turns_per: int = 10) -> list[Conversation]:
    rng = np.random.default_rng(seed)
    utterances = _utterances(data_dir)
    audio = {s: [read_audio_file(p, SR).samples for p in paths[:ENROLL_INDEX]] for s, paths in utterances.items()}
    names = sorted(audio)
    result = []
    for n in range(count):
        k = 2 + n % 3
        speakers = [str(s) for s in rng.choice(names, size=k, replace=False)]
        parts: list[np.ndarray] = []
        turns: list[tuple[float, float, str]] = []
        at = 0.0
        previous = None
        for _ in range(turns_per):
            speaker = str(rng.choice([s for s in speakers if s != previous]))
            previous = speaker
            clip = audio[speaker][int(rng.integers(len(audio[speaker])))]
            length = min(len(clip), int(rng.uniform(2.0, 15.0) * SR))
            offset = int(rng.integers(0, len(clip) - length + 1))
            pause = np.zeros(int(rng.uniform(0.2, 0.8) * SR), np.float32)
            parts += [pause, clip[offset : offset + length]]
            at += len(pause) / SR
            turns.append((round(at, 3), round(at + length / SR, 3), speaker))
            at += length / SR
        result.append(Conversation(f"conv{n:02d}", np.concatenate(parts), turns, speakers))
    return result
