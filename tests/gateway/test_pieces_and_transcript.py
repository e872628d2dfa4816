"""Long audio is split at quiet points and stitched back with the right offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gateway.core.pieces import split_at_quiet
from gateway.core.transcript import merge_pieces, to_srt, to_vtt
from wire.audio import read_audio_file
from wire.transcript import Segment, Transcription, Word

SR = 16000


def test_short_audio_is_one_piece(jfk: Path) -> None:
    audio = read_audio_file(jfk, SR).samples
    pieces = split_at_quiet(audio, SR, 30)
    assert len(pieces) == 1 and pieces[0].audio is audio


def test_long_audio_pieces_cover_it_and_cut_in_quiet(data_dir: Path) -> None:
    audio = read_audio_file(data_dir / "snakers4__silero-vad" / "en.wav", SR).samples  # 60 s
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


def _piece(probability: float, segments: list[Segment]) -> Transcription:
    return Transcription("", "en", probability, 30.0, "m", "transcribe", segments)


def test_merge_shifts_times_and_renumbers() -> None:
    a = _piece(
        0.9,
        [Segment(0, 0.0, 2.0, " Hello", -0.1, 0.01, words=[Word(0.1, 0.5, " Hello", 0.9)])],
    )
    b = _piece(0.99, [Segment(0, 1.0, 3.5, " world.", -0.1, 0.01)])
    merged = merge_pieces([(0.0, a), (28.25, b)], duration=31.75)
    assert merged.text == "Hello world."
    assert [s.id for s in merged.segments] == [0, 1]
    assert merged.segments[1].start == 29.25 and merged.segments[1].end == 31.75
    assert merged.segments[0].words is not None and merged.segments[0].words[0].start == 0.1
    assert merged.language_probability == 0.99 and merged.duration == 31.75


def test_subtitle_formats() -> None:
    segments = [Segment(0, 0.0, 1.5, " One.", 0.0, 0.0), Segment(1, 3661.25, 3662.0, " Two.", 0.0, 0.0)]
    assert to_srt(segments) == "1\n00:00:00,000 --> 00:00:01,500\nOne.\n\n2\n01:01:01,250 --> 01:01:02,000\nTwo.\n"
    assert to_vtt(segments).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nOne.\n")
