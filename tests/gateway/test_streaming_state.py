"""StreamTranscript: what is committed stays committed; the buffer stays bounded."""

from __future__ import annotations

import numpy as np

from gateway.core.local_agreement import StreamTranscript

SR = 16000


def _words(*items: tuple[float, float, str]) -> list[tuple[float, float, str]]:
    return list(items)


def test_words_commit_only_when_two_hypotheses_agree() -> None:
    st = StreamTranscript(SR, window_sec=15)
    st.append(np.zeros(2 * SR, np.float32))
    snap = st.update(_words((0.0, 0.4, " Hello"), (0.5, 0.9, " word")))
    assert snap.committed == "" and snap.tentative == "Hello word"
    st.append(np.zeros(SR, np.float32))
    snap = st.update(_words((0.0, 0.4, " Hello,"), (0.5, 0.9, " world"), (1.0, 1.5, " again")))
    assert snap.committed == "Hello," and snap.tentative == "world again"  # punctuation does not block agreement
    assert snap.text == "Hello, world again"
    # the buffer now starts where the committed word ended
    assert abs(st.buffer_start - 0.4) < 1e-3 and abs(st.buffer_sec - 2.6) < 1e-3


def test_committed_text_is_a_prefix_of_every_later_text() -> None:
    st = StreamTranscript(SR, window_sec=15)
    hypotheses = [
        [(0.0, 0.5, " the"), (0.5, 1.0, " cat")],
        [(0.0, 0.5, " the"), (0.5, 1.0, " cat"), (1.0, 1.4, " sat")],
        [(0.0, 0.4, " sat"), (0.4, 0.8, " on"), (0.8, 1.2, " the")],  # times now relative to the trimmed buffer
        [(0.0, 0.4, " sat"), (0.4, 0.8, " on"), (0.8, 1.2, " the"), (1.2, 1.6, " mat.")],
    ]
    committed: list[str] = []
    for hyp in hypotheses:
        st.append(np.zeros(SR, np.float32))
        snap = st.update(hyp)
        for earlier in committed:
            assert snap.committed.startswith(earlier)
        committed.append(snap.committed)
    final = st.finish([(0.0, 0.4, " the"), (0.4, 0.9, " mat.")])
    assert final.text == "the cat sat on the mat."


def test_rehead_words_are_not_committed_twice() -> None:
    st = StreamTranscript(SR, window_sec=15)
    st.append(np.zeros(3 * SR, np.float32))
    st.update([(0.0, 0.5, " one"), (0.6, 1.0, " two")])
    st.update([(0.0, 0.5, " one"), (0.6, 1.0, " two"), (1.1, 1.5, " three")])
    assert st.snapshot().committed == "one two"
    # Kept audio re-heard with jittered times: "two" again must not be appended
    snap = st.update([(0.0, 0.2, " two"), (0.3, 0.8, " three"), (0.9, 1.2, " four")])
    assert snap.committed == "one two three" and snap.tentative == "four"


def test_a_word_committed_cut_short_is_not_committed_again_whole() -> None:
    """Two buffers that both end inside "Americans" agree on "American"; the next hears the whole word
    from the same audio: the stream keeps one word there, where it had "American Americans"."""
    st = StreamTranscript(SR, window_sec=15, trim_sec=8)
    st.append(np.zeros(int(2.0 * SR), np.float32))
    st.update([(0.0, 0.6, " fellow"), (0.7, 1.95, " American")])
    st.append(np.zeros(int(0.15 * SR), np.float32))
    st.update([(0.0, 0.6, " fellow"), (0.7, 2.1, " American")])
    assert st.snapshot().committed == "fellow American"
    st.append(np.zeros(SR, np.float32))
    snap = st.update([(0.0, 0.6, " fellow"), (0.75, 2.4, " Americans"), (2.5, 2.8, " ask"), (2.9, 3.1, " not")])
    assert snap.committed == "fellow American" and snap.tentative == "ask not"
    # a word of its own that only starts like the last one is kept
    snap = st.update([(0.0, 0.6, " fellow"), (0.7, 2.1, " American"), (2.3, 2.9, " Americana")])
    assert snap.tentative == "Americana"


def test_no_agreement_for_a_whole_window_commits_its_first_half() -> None:
    st = StreamTranscript(SR, window_sec=4)
    st.append(np.zeros(3 * SR, np.float32))
    assert st.update([(0.5, 1.0, " alpha"), (2.5, 3.0, " beta")]).committed == ""
    st.append(np.zeros(SR, np.float32))
    snap = st.update([(0.5, 1.0, " alfa"), (2.5, 3.0, " beta")])  # disagrees on the first word
    assert snap.committed == "alfa"  # forced: it ends in the first half of the window
    assert st.buffer_sec < 4


def test_audio_after_words_that_stop_early_is_kept_for_the_next_window() -> None:
    """Whisper often ends its text early in a window (a new speaker begins): that audio is not silence."""
    st = StreamTranscript(SR, window_sec=4)
    st.append(np.zeros(3 * SR, np.float32))
    st.update([(0.2, 0.6, " one"), (0.7, 1.0, " two")])
    st.append(np.zeros(2 * SR, np.float32))  # a fast client: the buffer passes the window
    snap = st.update([(0.2, 0.6, " one"), (0.7, 1.0, " two")])  # agreed; nothing heard after 1.0 s
    assert snap.committed == "one two" and snap.tentative == ""
    # the buffer goes on from the last word, not from the half window (2.0 s): 1.0-2.0 s is still to be heard
    assert abs(st.buffer_start - 1.0) < 1e-3
    snap = st.update([(0.3, 0.7, " three")])  # the next window hears the new speaker there
    assert snap.committed == "one two three"


def test_silent_window_is_dropped_without_words() -> None:
    st = StreamTranscript(SR, window_sec=4)
    for _ in range(10):
        st.append(np.zeros(SR, np.float32))
        st.update([])
        assert st.buffer_sec < 4 + 1e-6
    assert st.snapshot().text == "" and st.finish([]).text == ""
    assert abs(st.received_sec - 10) < 1e-6


def test_committed_audio_stays_as_context_until_the_buffer_passes_trim_sec() -> None:
    st = StreamTranscript(SR, window_sec=15, trim_sec=4)
    st.append(np.zeros(3 * SR, np.float32))
    st.update([(0.0, 0.5, " One."), (0.6, 1.0, " two")])
    st.update([(0.0, 0.5, " One."), (0.6, 1.0, " two"), (1.2, 1.6, " three")])
    assert st.snapshot().committed == "One. two"
    assert st.buffer_start == 0.0 and abs(st.buffer_sec - 3.0) < 1e-3  # under trim_sec: nothing dropped
    st.append(np.zeros(2 * SR, np.float32))
    st.update([(0.0, 0.5, " One."), (0.6, 1.0, " two"), (1.2, 1.6, " three."), (3.0, 4.6, " four")])
    # past trim_sec: cut after the last committed word ("three." also ends a sentence in the second half)
    assert st.snapshot().committed == "One. two three."
    assert abs(st.buffer_start - 1.6) < 1e-3


def _buffer_with_agreed(seconds: float, hyp: list[tuple[float, float, str]]) -> StreamTranscript:
    """A trim_sec=4 transcript holding ``seconds`` of audio in which two hypotheses agreed on ``hyp``."""
    st = StreamTranscript(SR, window_sec=15, trim_sec=4)
    st.append(np.zeros(int(seconds * SR), np.float32))
    st.update(hyp)
    st.update(hyp)
    assert st.snapshot().committed == _join_text(hyp)
    return st


def _join_text(hyp: list[tuple[float, float, str]]) -> str:
    return "".join(text for _, _, text in hyp).strip()


def test_trim_cuts_at_a_sentence_end_that_leaves_half_of_trim_sec() -> None:
    st = _buffer_with_agreed(
        6, [(0.5, 1.0, " alpha"), (3.5, 4.0, " beta."), (4.5, 5.0, " gamma"), (5.2, 5.6, " delta")]
    )
    assert abs(st.buffer_start - 4.0) < 1e-3  # after "beta.", not after "delta": the next decode hears whole sentences


def test_trim_keeps_half_of_trim_sec_as_context() -> None:
    hyp = [(1.0, 1.5, " a."), (6.0, 6.5, " b"), (7.5, 8.0, " c"), (9.0, 9.5, " d")]
    st = _buffer_with_agreed(10, hyp)
    assert abs(st.buffer_start - 1.5) < 1e-3  # a sentence end first
    st.update([(w0 - 1.5, w1 - 1.5, text) for w0, w1, text in hyp[1:]])  # the same words, heard again
    # still past trim_sec: now the latest committed word that leaves >= 2 s of buffer, "c" (buffer ends at 10)
    assert abs(st.buffer_start - 8.0) < 1e-3 and st.snapshot().committed == "a. b c d"
