"""Diarization arithmetic on synthetic embeddings: windows, clustering, turns, naming, RTTM, word labels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gateway.app.services.diarization import DiarizeOptions
from gateway.core.diarization import (
    HOP_SEC,
    WINDOW_SEC,
    Turn,
    cluster,
    name_clusters,
    smooth,
    speaker_at,
    to_rttm,
    turns,
    window_spans,
)
from gateway.core.errors import InvalidRequest


def _voices(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 256)).astype(np.float32)


def _windows_of(voices: np.ndarray, sequence: list[int], noise: float = 0.3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([voices[v] + noise * rng.standard_normal(256) for v in sequence]).astype(np.float32)


def test_windows_cover_the_audio_with_overlap() -> None:
    spans = window_spans(10.0)
    assert spans[0] == (0.0, WINDOW_SEC) and spans[-1][1] == 10.0
    regular = spans[:-1]  # the last window is aligned to the end instead
    assert all(b[0] - a[0] == pytest.approx(HOP_SEC) for a, b in itertools.pairwise(regular))
    assert window_spans(1.0) == [(0.0, 1.0)] and window_spans(0.0) == []


def test_clustering_finds_the_speakers_blind_and_by_count() -> None:
    voices = _voices(3)
    sequence = [0] * 6 + [1] * 5 + [2] * 4 + [0] * 3
    labels = cluster(_windows_of(voices, sequence), merge_threshold=0.6)
    assert list(labels) == [0] * 6 + [1] * 5 + [2] * 4 + [0] * 3  # numbered by first appearance
    assert len(set(cluster(_windows_of(voices, sequence), 0.6, num_speakers=2))) == 2
    assert len(set(cluster(_windows_of(voices, sequence), 0.6, min_speakers=4))) == 4
    one = cluster(_windows_of(voices, [1] * 8), merge_threshold=0.6)
    assert set(one) == {0}


def test_turns_change_between_window_centres_and_skip_silence() -> None:
    spans = window_spans(6.0)
    labels = [0, 0, 0, 1, 1, 1, -1][: len(spans)]
    result = turns(spans, labels)
    assert [t.label for t in result] == [0, 1]
    assert result[0].start == 0.0
    assert result[0].end == result[1].start  # one boundary, between two window centres
    assert result[1].end <= spans[5][1]
    assert smooth([0, 0, 1, 0, 0]) == [0, 0, 0, 0, 0] and smooth([0, 1, 1, 0]) == [0, 1, 1, 0]


def test_enrolled_voices_name_at_most_one_cluster_each() -> None:
    voices = _voices(3, seed=5)
    centroids = {0: voices[0], 1: voices[1], 2: voices[0] * 0.9 + voices[2] * 0.1}
    named = name_clusters(centroids, {"alice": voices[0], "bob": voices[1]}, threshold=0.72)
    assert named[0][0] == "alice" and named[1][0] == "bob"
    assert named[2][0] is None  # alice already names a better-matching cluster


def test_rttm_and_word_labels() -> None:
    turn_list = [Turn(0.0, 2.5, 0), Turn(2.5, 6.0, 1)]
    rttm = to_rttm(turn_list, {0: "alice", 1: "SPEAKER_00"}, file_id="call")
    assert rttm.splitlines() == [
        "SPEAKER call 1 0.000 2.500 <NA> <NA> alice <NA> <NA>",
        "SPEAKER call 1 2.500 3.500 <NA> <NA> SPEAKER_00 <NA> <NA>",
    ]
    assert speaker_at(turn_list, 2.2, 2.7) == 0 and speaker_at(turn_list, 2.4, 3.0) == 1
    assert speaker_at(turn_list, 7.0, 7.5) == 1  # after the last turn: the nearest


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0, None, None, None), "num_speakers"),
        ((21, None, None, None), "num_speakers"),
        ((None, 3, 2, None), "min_speakers"),
        ((2, 1, None, None), "not both"),
        ((None, None, None, "ok,../x"), "speaker_id"),
    ],
)
def test_bad_diarize_parameters_are_400(args: tuple, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidRequest, match=field):
        DiarizeOptions.parse(*args)
