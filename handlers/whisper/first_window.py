"""One batched generate for the first 30 s window of every clip in a batch.

TorchServe hands the whisper handler a batch; faster-whisper transcribes one clip at a time. Most
requests here fit one window (file pieces are <= 30 s, stream buffers <= 15 s), so the first
window is nearly all the work. ``prefetch`` computes, for every clip of a batch that can share a
call, exactly what faster-whisper's ``transcribe`` would compute for that window (the same VAD,
features, prompt and decoding options) as one CTranslate2 ``generate`` over the stacked encoder
outputs (encoded in one call on a GPU, one window at a time on a CPU: see ``_encode``).
``transcribe`` then runs per clip as before and picks the prepared encoder output and first
decoding up where it would have made them (``BatchingWhisper`` in engine.py), so later windows,
the temperature fallback ladder and word timestamps keep faster-whisper's own logic, and the text
is what one-at-a-time decoding gives.

What cannot share a call goes the ordinary way: language detection, sampling temperatures,
clips longer than a window, greedy decodings on a CPU.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from handlers.whisper.loop_guard import cut_at, probe_budget
from wire.options import DecodeOptions

__all__ = ["FirstWindows", "Prepared", "greedy_batches"]

_WINDOW_FRAMES = 3000
_MAX_INITIAL_TIMESTAMP_SEC = 1.0  # faster-whisper's transcribe defaults, which its own decoding uses
_TIME_PRECISION = 0.02


@dataclass
class Prepared:
    """One clip's first window, decoded in a batch, waiting for its transcribe() to pick it up."""

    encoder_output: Any  # ctranslate2.StorageView of this clip alone
    prompt: list[int]
    result: Any  # WhisperGenerationResult at options.temperatures[0]


@dataclass
class FirstWindows:
    """Prepared first windows, found by the features faster-whisper will encode (thread-safe)."""

    _by_window: dict[bytes, list[Prepared]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, key: bytes, prepared: Prepared) -> None:
        with self._lock:
            self._by_window.setdefault(key, []).append(prepared)  # the same clip twice: one each

    def take(self, key: bytes) -> Prepared | None:
        with self._lock:
            waiting = self._by_window.get(key)
            if not waiting:
                return None
            prepared = waiting.pop(0)
            if not waiting:
                del self._by_window[key]
            return prepared

    def clear(self) -> None:
        with self._lock:
            self._by_window.clear()

    def __bool__(self) -> bool:
        return bool(self._by_window)


def window_key(window: np.ndarray, frames: int | None) -> bytes:
    """The identity of an encoder input: its mel features and how many frames are encoded."""
    digest = hashlib.blake2b(np.ascontiguousarray(window, dtype=np.float32).tobytes(), digest_size=16)
    digest.update(str(frames).encode())
    return digest.digest()


@dataclass
class _Clip:
    index: int
    audio: np.ndarray
    options: DecodeOptions
    prompt: list[int]
    cap: int  # prompt + new tokens allowed in its first run
    probing: bool  # that first run is the loop guard's half budget
    frames: int | None  # its own fitted window, or None for the full one


class _Group(NamedTuple):
    """What a batched generate needs to be the same for all its clips. Language and task are tokens
    of each clip's own prompt: clips of any language share a call."""

    beam_size: int
    full: bool  # the 30 s window (False: fitted windows, padded to the group's longest)
    sot_index: int  # CTranslate2 needs <|startoftranscript|> at one position across a batch
    # greedy decoding may run to the longest cap and be judged per clip afterwards; beam search is
    # only comparable under one cap
    cap: int | None
    suppress: tuple[int, ...]


def prefetch(
    model: Any,
    store: FirstWindows,
    jobs: Sequence[tuple[np.ndarray, DecodeOptions, int | None]],
    pool: Executor | None = None,
) -> dict[int, int | None]:
    """Decode the first window of every clip that can share a call, in batches.

    ``jobs``: (16 kHz audio, options, fitted encoder frames or None) per clip. Returns, for each
    clip prepared, the encoder frames its transcribe() must use: a group of fitted windows is
    padded to its longest member, so one clip may be encoded with a little more padding than alone.
    ``pool``: threads that encode a CPU group's windows side by side (see ``_encode``).
    """
    frames_used: dict[int, int | None] = {}
    for group, members in _groups(model, jobs).items():
        frames_used.update(_decode_group(model, store, group, members, pool))
    return frames_used


def _groups(model: Any, jobs: Sequence[tuple[np.ndarray, DecodeOptions, int | None]]) -> dict[_Group, list[_Clip]]:
    """The clips that may share a batched call, by what the call needs to be the same for all."""
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    groups: dict[_Group, list[_Clip]] = {}
    for index, (audio, options, frames) in enumerate(jobs):
        if options.language is None or (options.temperature or 0.0) > 0:
            continue  # detection and sampling decode differently: the ordinary path
        if options.beam_size == 1 and not greedy_batches(model):
            # Greedy on a CPU: side by side on the worker threads is sooner. Measured on a 2-core CPU,
            # seven pairs of live-stream windows (3-8 s, token caps, word times, VAD) took 8.0-8.5 s
            # batched and 5.0-5.2 s on two threads (11.1 vs 9.7-10.5 s without caps). A greedy step
            # is one row per clip, so a batch of a few gains little there, and a capped clip stopped
            # by a longer one's cap or by the loop guard's half budget is decoded again alone. Beam
            # search (5 rows per clip) keeps batching: files through the API 9.7-10.0 audio-s/s with
            # it, 9.0-9.4 without.
            continue
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task=options.task, language=options.language
        )
        previous = tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=False, prefix=None, hotwords=options.hotwords)
        cap = model.max_length if options.max_new_tokens is None else len(prompt) + options.max_new_tokens
        if cap > model.max_length:
            continue  # faster-whisper refuses it: let it say so
        # a capped greedy decoding runs with the loop guard's half budget first, as it would alone
        probe = probe_budget(options.beam_size, [options.temperature], options.max_new_tokens)
        run_cap = cap if probe is None else len(prompt) + probe
        group = _Group(
            beam_size=options.beam_size,
            full=frames is None,
            sot_index=prompt.index(tokenizer.sot),
            cap=None if options.beam_size == 1 else cap,
            suppress=tuple(get_suppressed_tokens(tokenizer, [-1])),
        )
        groups.setdefault(group, []).append(_Clip(index, audio, options, prompt, run_cap, probe is not None, frames))
    return groups


def _decode_group(
    model: Any, store: FirstWindows, group: _Group, members: list[_Clip], pool: Executor | None
) -> dict[int, int | None]:
    """One group's first windows in one generate, each result stored for its clip's transcribe();
    returns the encoder frames of each clip stored."""
    frames_used: dict[int, int | None] = {}
    # the window (VAD, mel features) only for clips that have a partner: alone, the ordinary
    # path computes it anyway (two live streams' prompts rarely match in length)
    found = [(c, _first_window(model, c.audio, c.options)) for c in members] if len(members) > 1 else []
    window = {c.index: w for c, w in found if w is not None}  # None: the clip needs more than one window
    clips = [c for c in members if c.index in window]
    if len(clips) < 2:
        return {}  # nothing to share: the ordinary path is the same work
    frames = None if group.full else max(c.frames or 0 for c in clips)
    inputs = [window[c.index] if frames is None else window[c.index][..., :frames] for c in clips]
    outputs = _encode(model, inputs, pool)
    results = model.model.generate(
        outputs.batch,
        [c.prompt for c in clips],
        beam_size=group.beam_size,
        patience=1,
        length_penalty=1,
        repetition_penalty=1,
        no_repeat_ngram_size=0,
        max_length=(max_length := max(c.cap for c in clips)),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=list(group.suppress),
        max_initial_timestamp_index=round(_MAX_INITIAL_TIMESTAMP_SEC / _TIME_PRECISION),
    )
    for i, (clip, result) in enumerate(zip(clips, results, strict=True)):
        own_limit = clip.cap == max_length and not clip.probing  # decoded under exactly its own limit
        ended = len(result.sequences_ids[0]) < cut_at(len(clip.prompt), clip.cap - len(clip.prompt))
        if not (own_limit or ended):
            continue  # stopped by a longer clip's cap or by its loop probe: let it decode alone, exactly
        store.put(window_key(window[clip.index], frames), Prepared(outputs.clip(i), clip.prompt, result))
        frames_used[clip.index] = frames
    return frames_used


@dataclass
class _Encoded:
    """A group's encoder outputs: stacked for the batched generate, and each clip's own for its transcribe()."""

    batch: Any  # ctranslate2.StorageView [clips, frames / 2, d_model]
    clips: list[Any] | None  # per clip, when encoded one by one (None: sliced from ``batch``)
    _host: np.ndarray | None = None

    def clip(self, i: int) -> Any:
        import ctranslate2

        if self.clips is not None:
            return self.clips[i]
        if self._host is None:  # split on the host, once; CTranslate2 moves each clip's part back
            on_host = self.batch.to_device(ctranslate2.Device.cpu) if self.batch.device == "cuda" else self.batch
            self._host = np.asarray(on_host)
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(self._host[i : i + 1]))


def _encode(model: Any, windows: list[np.ndarray], pool: Executor | None) -> _Encoded:
    """Encode a group's windows: one batched call on a GPU; on a CPU each window alone, side by side.

    On a 2-core CPU four full windows took 2.6-2.9 s as one batched encode and 2.1 s as single encodes
    on two threads (2.3 s one after another): the encoder is compute-bound and its batched attention
    outgrows the caches, so only the decoder's steps (beam rows of every clip in one matrix product)
    gain from the batch (0.9-1.2 s against 2.3 s for four clips one after another).
    """
    import ctranslate2

    def encode(stacked: np.ndarray) -> Any:
        return model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(stacked)))

    if model.model.device != "cpu":
        return _Encoded(encode(np.stack(windows)), None)
    singles = [w[np.newaxis] for w in windows]
    outputs = list(pool.map(encode, singles)) if pool is not None else [encode(w) for w in singles]
    stacked = np.concatenate([np.asarray(o) for o in outputs])
    return _Encoded(ctranslate2.StorageView.from_array(stacked), outputs)


def greedy_batches(model: Any) -> bool:
    """Whether greedy clips share batched calls: on a GPU, not on a CPU (see ``prefetch``)."""
    return bool(model.model.device != "cpu")


def _first_window(model: Any, audio: np.ndarray, options: DecodeOptions) -> np.ndarray | None:
    """The mel window faster-whisper's transcribe() encodes first for this clip (None: more than one window)."""
    from faster_whisper.audio import pad_or_trim

    if options.vad_filter:
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        chunks = get_speech_timestamps(audio, VadOptions())
        if not chunks:
            return None
        audio = np.concatenate(collect_chunks(audio, chunks)[0], axis=0)
    features = model.feature_extractor(audio, chunk_length=None)
    content = features.shape[-1] - 1
    if content <= 0 or content > _WINDOW_FRAMES:
        return None
    return np.asarray(pad_or_trim(features[:, :content]), dtype=np.float32)
