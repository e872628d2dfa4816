"""Live-stream decodes: the loop guard and the skipped tail, on the real model and real speech."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import handlers.whisper.first_window as first_window
import handlers.whisper.loop_guard as loop_guard
from eval.textnorm import normalize
from handlers.whisper.asr import WhisperASR
from handlers.whisper.engine import content_frames
from handlers.whisper.handler import WhisperHandler
from tests.handlers.context import load_handler
from tests.handlers.spies import record_prefetch
from wire.audio import read_audio_file
from wire.options import DecodeOptions

RATE = 16000
LECTURE = "snakers4__silero-vad/en.wav"
# What a /ws/asr stream has committed before the window below (its prompt).
PROMPT = "and says, how do I get to Dublin? And the answer that comes back is,"


@pytest.fixture(scope="module")
def asr() -> WhisperASR:
    service, _ = load_handler(WhisperHandler, "whisper")
    return service.asr  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def lecture(data_dir: Path) -> np.ndarray:
    return read_audio_file(data_dir / LECTURE, RATE).samples


def _stream_options(seconds: float, **extra: Any) -> DecodeOptions:
    """What the gateway's stream session asks for a partial (gateway/app/services/stream_session.py)."""
    return DecodeOptions(
        language="en",
        beam_size=1,
        temperature=0.0,
        word_timestamps=True,
        vad_filter=True,
        fit_window=True,
        max_new_tokens=int(16 + 12 * seconds),
        **extra,
    )


def _tokens(result: Any) -> list[int]:
    return [t for s in result.segments for t in s.tokens]


def _unguarded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_guard, "probe_tokens", lambda options: None)


# 5.5 s stretches of the lecture (start, end, the words before the loop) where greedy Whisper, prompted with
# PROMPT, fills its budget with "_": which of them loops depends on the CPU's int8 kernels (the first on an
# AMD EPYC, the others on an Intel Xeon)
LOOPING_CANDIDATES = (
    (4.0, 9.5, "wouldnt start from here"),
    (14.5, 20.0, "take no account of"),
    (11.0, 16.5, "political philosophy develops theories"),
    (49.5, 55.0, "global wealth tax"),
)


@pytest.fixture(scope="module")
def looping(asr: WhisperASR, lecture: np.ndarray) -> tuple[np.ndarray, str]:
    """The first candidate window that loops on this CPU without the guard, and its words before the loop."""
    with pytest.MonkeyPatch.context() as m:
        _unguarded(m)
        for start, end, words in LOOPING_CANDIDATES:
            window = lecture[int(start * RATE) : int(end * RATE)]
            looped = asr.transcribe(window, _stream_options(5.5, initial_prompt=PROMPT))
            if loop_guard.loop_start(_tokens(looped)) is not None and looped.text.count("_") > 8:
                return window, words
    pytest.skip("this CPU's int8 kernels decode none of the candidate windows into the loop the guard is for")


@pytest.mark.parametrize(
    ("tokens", "start"),
    [
        ([5, 6, 7, 8] + [9] * 30, 5),  # a run of one token after words: keep one
        ([1, 2] + [3, 4, 5] * 8, 5),  # a three-token phrase over and over: keep the first
        (list(range(40)), None),  # no repetition
        ([1, 2] + [3, 4] * 5, None),  # repeats, but too short a tail to call a loop
        ([3] * 17, None),
        ([1] + list(range(2, 11)) * 3, None),  # a nine-token unit: longer than MAX_LOOP_PERIOD
    ],
)
def test_loop_start_finds_where_a_repeating_tail_begins(tokens: list[int], start: int | None) -> None:
    assert loop_guard.loop_start(tokens) == start


def test_a_looping_stream_window_stops_early_and_keeps_the_words_before_the_loop(
    asr: WhisperASR, looping: tuple[np.ndarray, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 5.5 s of the lecture cut where a stream cuts it: greedy Whisper fills its budget with "_"
    window, words = looping
    options = _stream_options(5.5, initial_prompt=PROMPT)
    guarded = asr.transcribe(window, options)
    with monkeypatch.context() as m:
        _unguarded(m)
        looped = asr.transcribe(window, options)
    assert len(_tokens(looped)) >= 40
    assert len(_tokens(guarded)) < 25
    assert words in normalize(guarded.text)
    assert guarded.text.count("_") <= 8 < looped.text.count("_")  # one unit of the loop is left at most
    assert loop_guard.loop_start(_tokens(guarded)) is None


def test_decodes_that_end_by_themselves_are_exactly_what_they_were(
    asr: WhisperASR, lecture: np.ndarray, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows = [lecture[int(a * RATE) : int(b * RATE)] for a, b in ((0, 6), (12, 20), (30, 38.5))]
    windows.append(read_audio_file(data_dir / "openai__whisper" / "jfk.flac", RATE).samples)
    options = [_stream_options(len(w) / RATE) for w in windows]
    guarded = [asr.transcribe(w, o) for w, o in zip(windows, options, strict=True)]
    _unguarded(monkeypatch)
    plain = [asr.transcribe(w, o) for w, o in zip(windows, options, strict=True)]
    assert [_tokens(r) for r in guarded] == [_tokens(r) for r in plain]
    assert sum(len(_tokens(r)) for r in plain) > 60  # real decodes, not empty ones


def test_a_partial_leaves_a_short_tail_undecoded(
    asr: WhisperASR, lecture: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faster_whisper import WhisperModel

    encoded: list[int] = []
    real_encode = WhisperModel.encode

    def counting(self: Any, features: np.ndarray) -> Any:
        encoded.append(content_frames(features))
        return real_encode(self, features)

    monkeypatch.setattr(WhisperModel, "encode", counting)
    # 4.3 s from the start of a stream: faster-whisper decodes the sentence, then the last second
    # after its final timestamp as a window of its own
    buffer = lecture[: int(4.3 * RATE)]
    whole = asr.transcribe(buffer, _stream_options(4.3))
    assert len(encoded) == 2 and encoded[1] < 200  # the tail: under 2 s of audio
    encoded.clear()
    partial = asr.transcribe(buffer, _stream_options(4.3, skip_tail_sec=2.0))
    assert len(encoded) == 1
    assert partial.text == whole.text and "how do i get to dublin" in normalize(partial.text)


def test_content_frames_counts_the_audio_before_the_padding(asr: WhisperASR, lecture: np.ndarray) -> None:
    from faster_whisper.audio import pad_or_trim

    mel = asr.model.feature_extractor(lecture[: 7 * RATE], chunk_length=None)[:, :-1]
    assert content_frames(np.asarray(pad_or_trim(mel))) == mel.shape[-1] == 700
    silence = asr.model.feature_extractor(np.zeros(2 * RATE, np.float32), chunk_length=None)[:, :-1]
    assert content_frames(np.asarray(pad_or_trim(silence))) == 200
    assert content_frames(np.zeros((80, 3000), np.float32)) == 0


def test_in_a_batch_a_looping_window_gets_the_answer_it_gets_alone(
    asr: WhisperASR, lecture: np.ndarray, looping: tuple[np.ndarray, str], monkeypatch: pytest.MonkeyPatch
) -> None:

    # greedy clips share batched calls on a GPU only: the GPU's path, run here on the CPU
    monkeypatch.setattr(first_window, "greedy_batches", lambda model: True)
    prepared = record_prefetch(monkeypatch)
    window, words = looping
    other = lecture[40 * RATE : int(45.5 * RATE)]
    options = _stream_options(5.5, initial_prompt=PROMPT)
    alone = asr.transcribe(window, options)
    batched = asr.transcribe_many([(other, options), (window, options)])
    assert not any(isinstance(r, Exception) for r in batched)
    # the two shared one call; the looping one, stopped by its probe there, was decoded again alone
    assert len(prepared) == 1 and 0 in prepared[0] and 1 not in prepared[0]
    assert _tokens(batched[1]) == _tokens(alone)
    assert len(_tokens(alone)) < 25 and words in normalize(alone.text) and normalize(batched[0].text)  # type: ignore[union-attr]
