"""Stop a greedy decoding that has fallen into a repetition loop, and cut the loop from its text.

Whisper sometimes repeats itself until the token cap ("that is to say, that is to say, ...", a
run of "_" or "-"), most often on a short live-stream window cut mid-word. Logged per decode on
/ws/asr (one 30 s stream): about 1 decode in 10, and a third of the model's time, 1-3 s each
that the stream (and any stream sharing its TorchServe batch) waits for text nobody keeps.

The guard runs a capped greedy decoding with half its ``max_new_tokens`` first. Greedy decoding
is deterministic step by step, so a decoding that ends within the half is exactly the one the
full budget gives (tests/handlers/test_loop_guard.py checks the tokens). One that has not ended
runs again with the full budget, unless it already loops: its last tokens repeat one short unit
(``loop_start``) or its text compresses past ``compression_ratio_threshold`` (faster-whisper's
own test of a failed decoding). Then the half is kept, and the repeating tail is cut after its
first unit, so the words heard before the loop still reach the stream. On the stream budget
(16 + 12 tokens per second of audio) normal decodes end well within the half once the stream
has a prompt; the shared clips' greedy decodes use at most 5 + 4 tokens per second.

Beam search is left alone: a beam that reaches the cap can finish differently from one allowed
to go on, so a shorter first run would not be the same decoding. A temperature ladder is left
alone too: its fallback is faster-whisper's own answer to a loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["cut_at", "guarded_generate", "loop_start", "probe_budget", "probe_tokens"]

# Fewer tokens than this cannot show a loop to the compression test (zlib's own overhead keeps
# the ratio of a short text low): below it the guard does not try.
MIN_PROBE_TOKENS = 24
# A tail of at least this many tokens that repeats one unit of at most MAX_LOOP_PERIOD tokens,
# three times or more, is a loop.
PERIODIC_TAIL_TOKENS = 18
MAX_LOOP_PERIOD = 8


def probe_tokens(options: Any) -> int | None:
    """The first run's token budget for faster-whisper's ``options`` (None: the guard does not apply)."""
    if options.compression_ratio_threshold is None:
        return None
    return probe_budget(options.beam_size, options.temperatures, options.max_new_tokens)


def probe_budget(beam_size: int, temperatures: Sequence[float | None], max_new_tokens: int | None) -> int | None:
    """Half the ``max_new_tokens`` of a greedy decoding at temperature 0 alone (None: not such a
    decoding, uncapped, or too few tokens to tell a loop)."""
    greedy_only = beam_size == 1 and list(temperatures) == [0.0]
    if not greedy_only or max_new_tokens is None or max_new_tokens // 2 < MIN_PROBE_TOKENS:
        return None
    return max_new_tokens // 2


def guarded_generate(
    generate: Callable[[Any, list[int], Any, Any], tuple[Any, ...]],
    encoder_output: Any,
    prompt: list[int],
    tokenizer: Any,
    options: Any,
    compression: Callable[[str], float],
) -> tuple[Any, ...]:
    """faster-whisper's ``generate_with_fallback`` (``generate``, whose tuple is (result, avg_logprob,
    temperature, compression_ratio)) with the loop guard in front; ``compression`` is its ratio."""
    probe = probe_tokens(options)
    if probe is None:
        return generate(encoder_output, prompt, tokenizer, options)
    first = generate(encoder_output, prompt, tokenizer, dataclasses.replace(options, max_new_tokens=probe))
    tokens = first[0].sequences_ids[0]
    if len(tokens) < cut_at(len(prompt), probe):
        return first  # ended by itself: exactly what the full budget gives
    looped = first[3] > options.compression_ratio_threshold or loop_start(tokens) is not None
    decoded = first if looped else generate(encoder_output, prompt, tokenizer, options)
    return _without_loop(decoded, tokenizer, compression)


def loop_start(tokens: Sequence[int]) -> int | None:
    """Where the tokens' repeating tail begins after its first unit (None: no such tail).

    A unit of at most MAX_LOOP_PERIOD tokens repeated to the end over at least
    PERIODIC_TAIL_TOKENS tokens (and three units). The compression test alone misses a run of
    one-character tokens ("-", "_") after real words: the whole text still compresses normally.
    """
    best: int | None = None
    for period in range(1, MAX_LOOP_PERIOD + 1):
        i = len(tokens) - 1 - period
        while i >= 0 and tokens[i] == tokens[i + period]:
            i -= 1
        span = len(tokens) - 1 - i  # tokens at the end that repeat with this period
        if span >= max(PERIODIC_TAIL_TOKENS, 3 * period):
            keep = len(tokens) - span + period
            best = keep if best is None else min(best, keep)
    return best


@dataclass(frozen=True)
class _Trimmed:
    """A generation result without its loop: the three fields faster-whisper reads."""

    sequences_ids: list[list[int]]
    scores: list[float]
    no_speech_prob: float


def _without_loop(decoded: tuple[Any, ...], tokenizer: Any, compression: Callable[[str], float]) -> tuple[Any, ...]:
    """The decoding with a repeating tail cut after its first unit (the words before it are heard)."""
    result, avg_logprob, temperature, _ = decoded
    tokens = result.sequences_ids[0]
    start = loop_start(tokens)
    if start is None:
        return decoded  # a loop too long to locate: the gateway drops it by its compression ratio
    kept = list(tokens[:start])
    trimmed = _Trimmed([kept], list(result.scores), result.no_speech_prob)
    return trimmed, avg_logprob, temperature, compression(tokenizer.decode(kept).strip())


def cut_at(prompt_len: int, max_new_tokens: int) -> int:
    """The fewest tokens a decoding stopped by the cap can have: fewer means it ended by itself.

    faster-whisper asks CTranslate2 for ``max_length = len(prompt) + max_new_tokens``; CTranslate2
    4.8 stops a Whisper decoding at ``max_length // 2`` new tokens (measured here: the prompt length
    does not matter). Taking the smaller of that and the documented reading keeps the test right
    if a release changes it: a decoding shorter than both did end by itself.
    """
    max_length = prompt_len + max_new_tokens
    return min(max_length // 2, max_new_tokens)
