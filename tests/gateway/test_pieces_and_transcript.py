"""Long audio is split at quiet points and stitched back with the right offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gateway.core.audio import load_and_resample
from gateway.core.pieces import split_at_quiet
from gateway.core.transcript import merge_pieces, to_srt, to_vtt

SR = 16000


def test_short_audio_is_one_piece(jfk: Path) -> None:
    audio = load_and_resample(jfk, SR)
    pieces = split_at_quiet(audio, SR, 30)
    assert len(pieces) == 1 and pieces[0].audio is audio


def test_long_audio_pieces_cover_it_and_cut_in_quiet(data_dir: Path) -> None:
    audio = load_and_resample(data_dir / "snakers4__silero-vad" / "en.wav", SR)  # 60 s
    pieces = split_at_quiet(audio, SR, 30)
    assert len(pieces) >= 2
    assert all(len(p.audio) <= 30 * SR for p in pieces)
    np.testing.assert_array_equal(np.concatenate([p.audio for p in pieces]), audio)
    assert [round(p.offset_sec * SR) for p in pieces] == list(np.cumsum([0] + [len(p.audio) for p in pieces[:-1]]))
    frame = SR // 10
    typical = np.median(np.square(audio[: len(audio) // frame * frame].reshape(-1, frame)).mean(axis=1))
    for piece in pieces[1:]:
        cut = round(piece.offset_sec * SR)
        assert np.square(audio[cut - frame // 2 : cut + frame // 2]).mean() < typical


def test_merge_shifts_times_and_renumbers() -> None:
    a = {
        "language": "en",
        "language_probability": 0.9,
        "model": "m",
        "segments": [
            {
                "id": 0,
                "start": 0.0,
                "end": 2.0,
                "text": " Hello",
                "words": [{"start": 0.1, "end": 0.5, "word": " Hello", "probability": 0.9}],
            }
        ],
    }
    b = {
        "language": "en",
        "language_probability": 0.99,
        "model": "m",
        "segments": [{"id": 0, "start": 1.0, "end": 3.5, "text": " world."}],
    }
    merged = merge_pieces([(0.0, a), (28.25, b)], duration=31.75)
    assert merged["text"] == "Hello world."
    assert [s["id"] for s in merged["segments"]] == [0, 1]
    assert merged["segments"][1]["start"] == 29.25 and merged["segments"][1]["end"] == 31.75
    assert merged["segments"][0]["words"][0]["start"] == 0.1
    assert merged["language_probability"] == 0.99 and merged["duration"] == 31.75


def test_subtitle_formats() -> None:
    segments = [{"start": 0.0, "end": 1.5, "text": " One."}, {"start": 3661.25, "end": 3662.0, "text": " Two."}]
    assert to_srt(segments) == "1\n00:00:00,000 --> 00:00:01,500\nOne.\n\n2\n01:01:01,250 --> 01:01:02,000\nTwo.\n"
    assert to_vtt(segments).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nOne.\n")
