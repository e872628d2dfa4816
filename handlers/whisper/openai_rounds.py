"""Rounds of batched decodes for the openai-whisper engine (``openai_engine.py``).

Each clip's window loop is a generator: it yields the decode it needs next (a ``Request``) and is
sent the result. ``drive`` runs every clip of a TorchServe batch to its end in rounds: in each round
the requests that can share a decode are stacked into one. So the first windows of a batch decode
together, then their later windows together, then the fallbacks at each temperature together.
Before this, only the first windows shared a decode. Each clip's later windows and fallbacks ran one
at a time, and on an H100 a batch of 8 real 30 s windows gave 36.6 audio-s/s, where 8 one after
another gave 45.4 (scripts/gpu_check.py, benchmarks/results/gpu.json).

Later windows are prompted with each clip's own text so far. openai-whisper's decoder has no
padding mask, so the prompts in one decode must have the same length: each keeps its latest tokens
to the length of the group's shortest. CTranslate2's Whisper ``generate`` asks the same of its
batches. ``_PROMPT_SHARE`` bounds what a clip gives up this way. Measured on this CPU with 14 real
30 s meeting windows (AMI) in one batch: 20 decodes where the windows one by one took 40, and every
clip that was not sampled had its text word for word as alone; trimming every prompt to the
shortest instead took 14 decodes but changed 4 of 10 texts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

__all__ = ["Loop", "Request", "drive", "prompt_groups"]

log = logging.getLogger(__name__)

# A clip shares a decode only with clips whose prompts hold at least this share of its own
# tokens: its prompt is trimmed by at most a quarter (at 0, all trimmed to the shortest, texts changed).
_PROMPT_SHARE = 0.75


@dataclass(frozen=True)
class Request:
    """One window to decode for one clip.

    ``prompt``: a later window's text so far, written in place of the options' prompt; empty for a
    first window (whose options may hold the request's initial prompt) or after a sampled window.
    ``language``: None to detect it.
    """

    mel: Any
    options: Any  # whisper.decoding.DecodingOptions, a frozen dataclass: hashable
    prompt: tuple[int, ...]
    language: str | None
    # Sampled at each of these temperatures, one row each (``options`` has the first): the result is
    # then the list of their results, in this order.
    rungs: tuple[float, ...] = ()

    def key(self) -> tuple[Any, ...]:
        """Requests with equal keys can be one decode (their prompts trimmed to one length)."""
        return (self.options, bool(self.prompt), self.language is None, self.rungs)


Loop = Generator[Request, Any, Any]


def prompt_groups(requests: list[Request]) -> list[list[int]]:
    """Indexes of ``requests`` (one key) split so that no prompt is trimmed past ``_PROMPT_SHARE``:
    longest first, each group's shortest prompt at least that share of its longest."""
    order = sorted(range(len(requests)), key=lambda i: len(requests[i].prompt), reverse=True)
    groups: list[list[int]] = []
    for i in order:
        if groups and len(requests[i].prompt) >= _PROMPT_SHARE * len(requests[groups[-1][0]].prompt):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def drive(loops: list[Loop], decode: Callable[[list[Request]], list[Any]]) -> list[Any]:
    """Run each loop to its return value, its requests decoded in shared batches; a loop that raises,
    or whose decode fails, gets its exception as its result and the others go on."""
    results: list[Any] = [None] * len(loops)
    waiting: dict[int, Request] = {}

    def advance(i: int, sent: Any) -> None:
        try:
            waiting[i] = loops[i].send(sent)
        except StopIteration as done:
            results[i] = done.value
        except Exception as exc:  # one clip's failure stays that clip's: the shell reports it per item
            log.exception("openai-whisper: a clip's window loop failed")
            results[i] = exc

    for i in range(len(loops)):
        advance(i, None)
    while waiting:
        this_round = dict(waiting)
        waiting.clear()
        by_key: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, request in this_round.items():
            by_key[request.key()].append(i)
        for members in by_key.values():
            requests = [this_round[i] for i in members]
            for group in prompt_groups(requests):  # unprompted requests are one group
                clips = [members[j] for j in group]
                try:
                    decoded = decode([this_round[i] for i in clips])
                except Exception as exc:  # every clip of the failed decode reports it
                    log.exception("openai-whisper decode failed")
                    for i in clips:
                        loops[i].close()
                        results[i] = exc
                    continue
                for i, result in zip(clips, decoded, strict=True):
                    advance(i, result)
    return results
