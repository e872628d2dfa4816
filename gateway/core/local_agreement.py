"""Live transcription state for one /ws/asr stream: what is committed, what may still change.

Whisper re-decodes a sliding buffer of recent audio. A word is *committed* once two
consecutive hypotheses agree on it (LocalAgreement-2, as in Macháček et al.'s
whisper_streaming): committed text never changes again, only the tentative tail
does. Once the buffer is longer than ``trim_sec``, the audio of committed words is
dropped (at a sentence end when there is one), so a talk of any length is
transcribed whole while each decode stays short; at least ``trim_sec / 2`` of it
stays as context, because Whisper given only a second or two of audio tends to
hallucinate. When hypotheses keep disagreeing and the buffer reaches the window,
its first half is committed as heard, which bounds both latency and memory.

Pure state: no I/O, no clock. The gateway's stream session feeds it audio and
hypotheses (words with times relative to the buffer start).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Snapshot", "StreamTranscript", "StreamWord"]

_NORMAL = re.compile(r"[^\w']+")
_SENTENCE_END = (".", "?", "!", "…", "。")


@dataclass(frozen=True)
class StreamWord:
    start: float  # seconds from the start of the stream
    end: float
    text: str  # as Whisper wrote it, usually with a leading space

    @property
    def key(self) -> str:
        return _NORMAL.sub("", self.text.lower())


@dataclass(frozen=True)
class Snapshot:
    committed: str
    tentative: str

    @property
    def text(self) -> str:
        return " ".join(part for part in (self.committed, self.tentative) if part)


def _join(words: Sequence[StreamWord]) -> str:
    return "".join(w.text for w in words).strip()


class StreamTranscript:
    def __init__(self, sample_rate: int, window_sec: float, trim_sec: float = 0.0, prompt_chars: int = 200) -> None:
        self.sample_rate = sample_rate
        self.window_sec = window_sec
        self.trim_sec = min(trim_sec, window_sec)
        self.prompt_chars = prompt_chars
        self.buffer = np.zeros(0, dtype=np.float32)
        self.buffer_start = 0.0  # stream time of buffer[0]
        self.received_sec = 0.0
        self.committed: list[StreamWord] = []
        self._pending: list[StreamWord] = []  # last hypothesis after the committed words

    # Audio ----------------------------------------------------------------------
    def append(self, samples: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, samples.astype(np.float32, copy=False)])
        self.received_sec += len(samples) / self.sample_rate

    @property
    def buffer_sec(self) -> float:
        return len(self.buffer) / self.sample_rate

    def prompt(self) -> str | None:
        """Committed text just before the buffer: context for the next decode."""
        text = _join([w for w in self.committed if w.end <= self.buffer_start + 1e-3])
        return text[-self.prompt_chars :] or None

    # Hypotheses -----------------------------------------------------------------
    def update(self, words: Sequence[tuple[float, float, str]]) -> Snapshot:
        """Take a hypothesis for the current buffer (times relative to it); commit what two agree on."""
        current = self._fresh(words)
        agreed = 0
        for old, new in zip(self._pending, current, strict=False):
            if old.key != new.key or not new.key:
                break
            agreed += 1
        self.committed.extend(current[:agreed])
        self._pending = current[agreed:]
        if self.buffer_sec >= self.window_sec:
            self._force_commit()
        self._trim()
        return self.snapshot()

    def finish(self, words: Sequence[tuple[float, float, str]]) -> Snapshot:
        """The last hypothesis of the stream: everything in it is final."""
        self.committed.extend(self._fresh(words))
        self._pending = []
        self.buffer = np.zeros(0, dtype=np.float32)
        self.buffer_start = self.received_sec
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        return Snapshot(_join(self.committed), _join(self._pending))

    # Internals ------------------------------------------------------------------
    def _fresh(self, words: Sequence[tuple[float, float, str]]) -> list[StreamWord]:
        """Hypothesis words in stream time, without those already committed."""
        last_end = self.committed[-1].end if self.committed else -1.0
        out = [
            StreamWord(round(self.buffer_start + start, 3), round(self.buffer_start + end, 3), text)
            for start, end, text in words
        ]
        out = [w for w in out if w.end > last_end + 0.05]  # re-heard from kept audio: already committed
        if out and self.committed and self._extends_last(out[0]):
            out = out[1:]
        # Word times jitter between decodes: also drop a head that repeats the committed tail.
        tail = [w.key for w in self.committed[-5:]]
        for n in range(min(len(tail), len(out)), 0, -1):
            if [w.key for w in out[:n]] == tail[-n:] and out[0].start < last_end + 1.0:
                return out[n:]
        return out

    def _extends_last(self, word: StreamWord) -> bool:
        """``word`` is the last committed word heard whole: two hypotheses whose buffers both ended
        inside a word can agree on its start ("American"), and the next, with more audio, hears
        "Americans" from the same place. A word that begins before the committed one's middle is
        that audio again, not a word of its own."""
        last = self.committed[-1]
        return (
            bool(last.key)
            and word.key != last.key
            and word.key.startswith(last.key)
            and word.start < (last.start + last.end) / 2
        )

    def _force_commit(self) -> None:
        """The buffer has reached the window: commit the first half of the latest hypothesis.

        With nothing to commit there, the buffer goes on from the last committed word when there
        is one inside it, so the next window starts with the audio this hypothesis put no words
        to: Whisper's text often stops early, or skips a few words, where a new speaker begins,
        and dropping the half window lost those words in fast (unpaced) streams. Only when no
        committed word lies in the buffer is the first half dropped."""
        cut = self.buffer_start + self.window_sec / 2
        head = [w for w in self._pending if w.end <= cut]
        self.committed.extend(head)
        self._pending = self._pending[len(head) :]
        if head:
            return
        heard_until = self.committed[-1].end if self.committed else self.buffer_start
        self._drop_until(heard_until if heard_until > self.buffer_start + 1e-3 else cut)

    def _trim(self) -> None:
        """Past trim_sec, drop the audio of committed words, keeping at least trim_sec / 2 of the
        buffer as context: cut at the latest sentence end that allows it, else the latest word."""
        if self.buffer_sec <= self.trim_sec or not self.committed:
            return
        end = self.buffer_start + self.buffer_sec
        inside = [w for w in self.committed if w.end > self.buffer_start]
        if not inside:
            return
        keeps = [w for w in inside if end - w.end >= self.trim_sec / 2] or inside[:1]
        sentence = [w for w in keeps if w.text.rstrip().endswith(_SENTENCE_END)]
        self._drop_until((sentence or keeps)[-1].end)

    def _drop_until(self, stream_time: float) -> None:
        n = round((stream_time - self.buffer_start) * self.sample_rate)
        n = max(0, min(n, len(self.buffer)))
        if n:
            self.buffer = self.buffer[n:]
            self.buffer_start += n / self.sample_rate
