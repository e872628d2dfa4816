"""What a transcript may claim about its audio: nothing timed past its end."""

from __future__ import annotations

from wire.transcript import Segment, Word, within_audio


def _segment(start: float, end: float, text: str, words: list[Word] | None = None) -> Segment:
    return Segment(
        id=0, start=start, end=end, text=text, avg_logprob=-0.3, no_speech_prob=0.1, temperature=0.0, words=words
    )


def test_segments_timed_past_the_audio_are_dropped_and_said_to_be() -> None:
    """The shape a damaged 40 s file's first piece (20.2 s) once came back with: two sampled segments
    running 13 s past its end, after the real ones."""
    real = [_segment(0.0, 13.56, " heard"), _segment(13.56, 20.06, " heard too")]
    invented = [_segment(20.06, 27.9, " never said"), _segment(27.9, 33.5, " nor this")]
    kept, warnings = within_audio([*real, *invented], 20.2)
    assert kept == real
    assert warnings == ["dropped 2 segment(s) timed past the end of the audio"]


def test_speech_that_ends_the_audio_is_kept_within_it() -> None:
    """Whisper's last timestamp overshoots real speech at the very end by a little: kept, cut to the end."""
    last = _segment(18.9, 20.6, " Thanks.", [Word(19.1, 20.0, " Thanks.", 0.9), Word(20.0, 20.6, "", 0.5)])
    long = _segment(12.0, 21.6, " a long one")  # 1.4 s past the end, but most of it heard
    kept, warnings = within_audio([long, last], 20.2)
    assert warnings == []
    assert [(s.start, s.end) for s in kept] == [(12.0, 20.2), (18.9, 20.2)]
    assert [(w.start, w.end) for w in kept[1].words or []] == [(19.1, 20.0), (20.0, 20.2)]
    assert within_audio([_segment(20.2, 20.5, " after")], 20.2) == (
        [],
        ["dropped 1 segment(s) timed past the end of the audio"],
    )
