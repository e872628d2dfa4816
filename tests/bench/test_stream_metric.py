"""The word-latency metric of the stream benchmark (protocol-agnostic: it only sees client text)."""

from __future__ import annotations

import pytest

from benchmarks.streams import RefWord, reference_words, word_latencies


def test_a_word_counts_from_the_first_update_that_shows_it() -> None:
    ref = reference_words([(0.5, " Hello,"), (1.0, " big"), (1.6, " world.")], "en")
    assert [w.key for w in ref] == ["hello", "big", "world"]
    updates = [(0.9, "Hello"), (1.5, "Hello big"), (2.0, "Hello big word"), (3.1, "Hello big world.")]
    assert word_latencies(ref, updates, "en") == pytest.approx([0.4, 0.5, 1.5])


def test_misheard_or_missing_words_never_count() -> None:
    ref = [RefWord(1.0, "ask"), RefWord(1.5, "not"), RefWord(2.0, "what")]
    assert word_latencies(ref, [(2.0, "ask knot"), (3.0, "ask knot")], "en") == [1.0, None, None]


def test_numbers_are_matched_after_normalising() -> None:
    ref = reference_words([(1.0, " 42")], "en")
    assert [w.key for w in ref] == ["forty", "two"]
    assert word_latencies(ref, [(1.5, "forty-two")], "en") == pytest.approx([0.5, 0.5])
