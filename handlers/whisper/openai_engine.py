"""Whisper on PyTorch (openai-whisper) for ``engine: openai-whisper``: a TorchServe batch is one decode.

For GPU nodes whose CUDA libraries CTranslate2 cannot use (and as the reference implementation):
the same Whisper base weights, converted at build time (``ct2_checkpoint.py``), CUDA + float16 when
a GPU is there, CPU + float32 otherwise. Clips of up to 30 s whose options can share a call (task,
beam, prompt, temperature, token cap; any given language, each clip's own token in its prompt) go
through ``whisper.decode`` as one stacked mel batch: one encoder pass and one batched beam search.
The encoder input and the window loop are faster-whisper's, so both engines give the same text:
segments cut at the timestamp tokens, an unfinished tail decoded in a further window, the
temperature fallback ladder, word times by cross-attention alignment when asked, and the same "no
speech" rule. The later windows and fallbacks of a batch's clips share decodes too
(``openai_rounds.py``). A clip longer than 30 s (only a direct TorchServe call sends
one: the gateway cuts pieces of 30 s) takes the same loop, its first window in the batch with the
others. What this engine does not do is said, not skipped: ``hotwords`` is a 400; ``vad_filter`` is
not applied (a warning says so).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import replace
from typing import Any

import numpy as np

from handlers.whisper.openai_decoding import batched_task_class
from handlers.whisper.openai_rounds import Loop, Request, drive
from handlers.whisper.openai_windows import FRAMES_PER_SEC, WINDOW_FRAMES, cut_window, window_features
from wire.envelope import MODEL_SAMPLE_RATE
from wire.errors import ErrorKind, WireError
from wire.options import DecodeOptions, parse_bool
from wire.transcript import HALLUCINATION, Segment, Transcription, Word, within_audio

__all__ = ["CHECKPOINT", "OpenAIWhisperASR"]

CHECKPOINT = "openai-whisper.pt"  # written beside model.bin by model-store/build.py
_NO_SPEECH = 0.6  # faster-whisper's no_speech_threshold
_STFT_PAD = 160  # samples of zeros after the audio before the STFT, as faster-whisper's feature extractor
_MIN_STFT_SAMPLES = 41  # with the 160 padding samples, one more than the STFT's 200-sample reflection
_PROMPT_TOKENS = 223  # the text so far a later window sees (half Whisper's context, less <|startofprev|>)
_FALLBACK_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)  # after 0.0: faster-whisper's ladder
_BEST_OF = 5  # samples per fallback temperature, as faster-whisper
_PROMPT_RESET_TEMPERATURE = 0.5  # faster-whisper's prompt_reset_on_temperature
# Windows one clip may take, per 30 s of its audio: the parity clips needed 2 at most; every window
# moves on, this bounds a clip whose windows each move on by very little.
_MAX_WINDOWS_PER_30_SEC = 8


def ends_ladder(compression_ratio: float, avg_logprob: float, no_speech_prob: float) -> bool:
    """Whether a window's decode ends the fallback ladder: text that neither loops (compresses too
    well) nor is unlikely, or unlikely text where the model hears no speech (the window is silence)."""
    loops = compression_ratio > HALLUCINATION.max_compression_ratio
    unlikely = avg_logprob < HALLUCINATION.min_avg_logprob
    return not (loops or unlikely) or (unlikely and no_speech_prob > _NO_SPEECH)


def half_weights(model: Any) -> None:
    """The model's matrix weights in float16, in place, for fp16 decoding; its layer norms stay float32.

    openai-whisper keeps float32 weights and casts each one to the activations' dtype on every call
    (``Linear``, ``Conv1d``, the logits' embedding): on an H100 about 150 of a decoding step's 260
    kernel launches were those casts (scripts/gpu_check.py's profile), and the step is bound by
    launches. Cast once here, they are rounded as on every call there: the same tokens, without the
    copies, at half the weights' memory (the token embedding is rounded before its position is added,
    not after: no difference for weights stored as float16, as the CTranslate2 float16 conversion's are).
    """
    import torch
    from whisper.model import Conv1d, Linear

    for module in model.modules():
        if isinstance(module, Linear | Conv1d | torch.nn.Embedding):
            module.half()


class OpenAIWhisperASR:
    """Same interface as ``WhisperASR``: ``transcribe_many`` over a TorchServe batch."""

    def __init__(self, config: Any, base_dir: str = ".", device_index: int = 0) -> None:
        import torch
        from whisper.model import ModelDimensions, Whisper

        self.config = config
        path = config.model_path if os.path.isabs(config.model_path) else os.path.join(base_dir, config.model_path)
        checkpoint = torch.load(os.path.join(path, CHECKPOINT), map_location="cpu", weights_only=True)
        cuda = config.device in ("auto", "cuda") and torch.cuda.is_available()
        if config.device == "cuda" and not cuda:
            raise RuntimeError("WHISPER_DEVICE=cuda but torch sees no GPU")
        self.device = f"cuda:{device_index}" if cuda else "cpu"
        self.fp16 = cuda
        self.compute_type = "float16" if cuda else "float32"
        at_once = str(config.fallback_at_once).strip().lower()
        self.fallback_at_once = cuda if at_once == "auto" else parse_bool(at_once)  # see WhisperConfig
        # with it, a window's rungs after the one kept stop there: the same outcome, fewer steps (off
        # only to measure what that saves: scripts/gpu_check.py)
        self.settle_rungs = True
        # a flag of the process (a TorchServe worker holds one model); why: WhisperConfig.cudnn_attention
        torch.backends.cuda.enable_cudnn_sdp(config.cudnn_attention)
        dims = ModelDimensions(**checkpoint["dims"])
        model = Whisper(dims)
        model.load_state_dict(checkpoint["model_state_dict"])
        heads = checkpoint.get("alignment_heads") or []
        if heads:  # the alignment heads of this checkpoint, for word timestamps
            mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
            for layer, head in heads:
                mask[layer, head] = True
            model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
        self.model = model.to(self.device).eval()
        if self.fp16:
            half_weights(self.model)
        self._torch = torch

    def transcribe_many(self, jobs: list[tuple[np.ndarray, DecodeOptions]]) -> list[Transcription | Exception]:
        results: list[Transcription | Exception | None] = [None] * len(jobs)
        loops: dict[int, Loop] = {}
        for i, (audio, options) in enumerate(jobs):
            if options.hotwords:
                results[i] = WireError(ErrorKind.INVALID_REQUEST, "hotwords need the faster-whisper engine")
            elif len(audio) / MODEL_SAMPLE_RATE > self.config.max_audio_sec:
                results[i] = WireError(ErrorKind.TOO_LONG, f"audio longer than {self.config.max_audio_sec:g} s")
            else:
                loops[i] = self._clip(audio, options)
        for i, result in zip(loops, drive(list(loops.values()), self._decode_requests), strict=True):
            results[i] = result
        return [r if r is not None else RuntimeError("not decoded") for r in results]

    # One clip's windows, as requests for shared decodes (openai_rounds.drive) --------------------
    def _clip(self, audio: np.ndarray, options: DecodeOptions) -> Loop:
        """faster-whisper's window loop for one clip.

        A window's text after its last pair of timestamps is unfinished: it is dropped, and the next
        window starts at that timestamp (at the last word's end with word timestamps), its prompt the
        text so far. Without this the engine lost a clip's last words where faster-whisper decodes them
        in a second window.
        """
        from whisper.decoding import DecodingOptions
        from whisper.tokenizer import get_tokenizer

        features = self._features(audio)
        first_options = DecodingOptions(
            task=options.task,
            language=None,  # each clip's own is the request's (None: detect), so languages share decodes
            temperature=options.temperature or 0.0,
            beam_size=options.beam_size if options.beam_size > 1 and not options.temperature else None,
            best_of=None,
            prompt=options.initial_prompt,
            sample_len=options.max_new_tokens,
            fp16=self.fp16,
        )
        request = Request(window_features(features, 0), first_options, (), options.language)
        first = yield request
        language = first.language
        request = replace(request, language=language)  # its fallbacks decode in the language found
        later_options = replace(first_options, prompt=None)  # the initial prompt is the start of the history
        tokenizer = get_tokenizer(
            self.model.is_multilingual,
            num_languages=self.model.num_languages,
            language=language,
            task=options.task,
        )
        content = int(features.shape[-1])
        history: list[int] = tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else []
        segments: list[Segment] = []
        seek, result, prompt_from = 0, first, 0
        for _ in range(_MAX_WINDOWS_PER_30_SEC * -(-content // WINDOW_FRAMES)):
            size = min(WINDOW_FRAMES, content - seek)
            if result is None:  # a later window, the text so far as its prompt
                prompt = tuple(history[prompt_from:][-_PROMPT_TOKENS:])
                request = Request(window_features(features, seek), later_options, prompt, language)
                result = yield request
            if options.temperature is None:  # faster-whisper's ladder, unless the request fixed a temperature
                result = yield from self._ladder(request, result)
            start = seek
            if result.no_speech_prob > _NO_SPEECH and result.avg_logprob < HALLUCINATION.min_avg_logprob:
                seek += size  # the model's own verdict: no speech in this window
            else:
                window, seek, single_ending = cut_window(result, tokenizer, seek, size)
                if options.word_timestamps and window:
                    window = self._with_words(window, tokenizer, request.mel, size, start)
                    ends = [w.end for s in window for w in s.words or []]
                    if not single_ending and ends and ends[-1] > start / FRAMES_PER_SEC:
                        seek = round(ends[-1] * FRAMES_PER_SEC)
                for segment in window:
                    history.extend(segment.tokens)
                    segments.append(replace(segment, id=len(segments)))
            if result.temperature > _PROMPT_RESET_TEMPERATURE:  # a sampled window does not prompt the next
                prompt_from = len(history)
            result = None
            if seek <= start:  # cut at its own start: nothing usable here; the audio after it still counts
                seek = start + size
            if seek >= content:
                break
        duration = len(audio) / MODEL_SAMPLE_RATE
        segments, dropped = within_audio(segments, duration)
        probability = (first.language_probs or {}).get(language) if first.language_probs else None
        stopped = [f"decoding stopped at {seek / FRAMES_PER_SEC:.1f} s: too many windows"] if seek < content else []
        return self._transcription(segments, language, probability, duration, options, [*dropped, *stopped])

    def _ladder(self, request: Request, result: Any) -> Generator[Request, Any, Any]:
        """faster-whisper's temperature fallback for one window: a decoding whose text compresses too
        well (a loop) or whose tokens are unlikely is sampled again at rising temperatures (best of 5),
        unless the window looks silent; if none passes, the likeliest that does not loop is kept.
        Without it, noise padded to the window decoded to "I'm sorry, I'm sorry, ..." where the
        CTranslate2 engine returns nothing. With ``fallback_at_once`` the rungs left are sampled in one
        decode the first time one is needed, then taken in order: the same outcome, fewer decodes."""
        tried: list[Any] = []
        not_looping: list[Any] = []
        ahead: list[Any] = []
        for rung in range(len(_FALLBACK_TEMPERATURES) + 1):
            if rung:
                if not ahead:
                    ahead = yield from self._sampled(request, _FALLBACK_TEMPERATURES[rung - 1 :])
                result = ahead.pop(0)
            tried.append(result)
            if result.compression_ratio <= HALLUCINATION.max_compression_ratio:
                not_looping.append(result)
            if ends_ladder(result.compression_ratio, result.avg_logprob, result.no_speech_prob):
                return result  # the rungs after it, sampled at once, stopped there (BatchedTask._settle)
        return max(not_looping or tried, key=lambda r: r.avg_logprob)

    def _sampled(self, request: Request, temperatures: tuple[float, ...]) -> Generator[Request, Any, list[Any]]:
        """The window sampled at the first of ``temperatures``, or with ``fallback_at_once`` at each."""
        if not self.fallback_at_once:
            temperatures = temperatures[:1]
        sampled = replace(request.options, temperature=temperatures[0], beam_size=None, best_of=_BEST_OF)
        if len(temperatures) == 1:
            return [(yield replace(request, options=sampled))]
        return list((yield replace(request, options=sampled, rungs=temperatures)))

    def _decode_requests(self, requests: list[Request]) -> list[Any]:
        """One decode for requests of one key (``Request.key``): their windows stacked, each clip's
        language token and prompt in its own row, prompts trimmed to the shortest's length."""
        head = requests[0]
        if head.rungs:  # one row per request and temperature; each request gets its rows' results
            rows = [replace(r, rungs=()) for r in requests for _ in head.rungs]
            temperatures = [t for _ in requests for t in head.rungs]
            results = self._decode_rows(rows, temperatures, repeats=len(head.rungs))  # each window encoded once
            results = [
                None if res is None else replace(res, temperature=t)
                for res, t in zip(results, temperatures, strict=True)
            ]
            n = len(head.rungs)
            # a rung stopped after the one that passed is None: the ladder never reads past that one
            # (were it to, it would sample the rungs left again)
            return [[res for res in results[i : i + n] if res is not None] for i in range(0, len(results), n)]
        return self._decode_rows(requests, None)

    def _decode_rows(self, requests: list[Request], temperatures: list[float] | None, repeats: int = 1) -> list[Any]:
        head = requests[0]
        mels = self._torch.stack([r.mel for r in requests])
        languages = None if head.language is None else [r.language or "" for r in requests]
        if not head.prompt:
            return self.decode(mels, head.options, languages, None, temperatures, repeats)
        shared = min(len(r.prompt) for r in requests)
        prompts = [list(r.prompt[len(r.prompt) - shared :]) for r in requests]
        return self.decode(mels, self._prompted(head.options, prompts[0]), languages, prompts, temperatures, repeats)

    def _features(self, audio: np.ndarray) -> Any:
        """The log-mel features faster-whisper computes for a clip, so both engines hear the same.

        The log-mel of the audio alone (its loudest frame sets the floor); each window is then padded
        with zero frames (``window_features``). openai-whisper's own ``transcribe`` pads the audio with silence
        first, which changes every window's input: with that, English WER on the parity clips was
        11.76 % against CTranslate2's 10.13 % at equal precision, timestamps (and so words) chosen
        differently.
        """
        from whisper.audio import log_mel_spectrogram

        if len(audio) < _MIN_STFT_SAMPLES:  # torch's STFT reflects 200 samples at each end: it needs more
            audio = np.pad(audio, (0, _MIN_STFT_SAMPLES - len(audio)))
        mel = log_mel_spectrogram(  # on the model's device: on a GPU the STFT of 32 windows is free there
            self._torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
            n_mels=self.model.dims.n_mels,
            padding=_STFT_PAD,
            device=self.device,
        )
        return mel[:, : mel.shape[-1] - 1]

    def _prompted(self, options: Any, prompt: list[int]) -> Any:
        """A later window's decoding options: the text so far as its prompt, the rest of the context its room."""
        room = self.model.dims.n_text_ctx - len(prompt) - 4  # <|startofprev|> + the 3-token SOT sequence
        return replace(options, prompt=prompt or None, sample_len=min(options.sample_len or _PROMPT_TOKENS + 1, room))

    def decode(
        self,
        mels: Any,
        options: Any,
        languages: list[str] | None = None,
        prompts: list[list[int]] | None = None,
        temperatures: list[float] | None = None,
        repeats: int = 1,
    ) -> list[Any]:
        """One batched decode of stacked mels (one encoder pass, one beam search for all of them);
        ``languages``: each clip's own (None: ``options.language`` for all, or detection); ``prompts``:
        each clip's own, of the length of ``options.prompt`` (None: that one for all); ``temperatures``:
        each clip's own, when sampling (None: ``options.temperature`` for all); ``repeats``: the mels
        come in runs of this many equal rows (one window at several temperatures), each run encoded once."""
        with self._torch.inference_mode():
            # runs of repeated rows are one window's ladder rungs: the later ones stop once it is decided
            settle = ends_ladder if self.settle_rungs else None
            task = batched_task_class()(self.model, options, languages, prompts, temperatures, repeats, settle)
            return task.run(mels)  # type: ignore[no-any-return]

    def _with_words(self, segments: list[Segment], tokenizer: Any, mel: Any, frames: int, seek: int) -> list[Segment]:
        """Word times by cross-attention alignment over one window (``frames`` of audio from ``seek``)."""
        from whisper.timing import add_word_timestamps

        raw: list[dict[str, Any]] = [
            {
                "seek": seek,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [t for t in s.tokens if t < tokenizer.eot],
            }
            for s in segments
        ]
        add_word_timestamps(
            segments=raw,
            model=self.model,
            tokenizer=tokenizer,
            mel=mel,
            num_frames=frames,
            last_speech_timestamp=0.0,
        )
        return [
            Segment(
                **{
                    **{k: getattr(s, k) for k in ("id", "start", "end", "text", "avg_logprob", "no_speech_prob")},
                    "tokens": s.tokens,
                    "temperature": s.temperature,
                    "compression_ratio": s.compression_ratio,
                    "words": [
                        Word(round(w["start"], 3), round(w["end"], 3), w["word"], round(float(w["probability"]), 3))
                        for w in r.get("words", [])
                    ],
                }
            )
            for s, r in zip(segments, raw, strict=True)
        ]

    def _transcription(
        self,
        segments: list[Segment],
        language: str | None,
        probability: float | None,
        duration: float,
        options: DecodeOptions,
        warnings: list[str],
    ) -> Transcription:
        if options.vad_filter:
            warnings = [*warnings, "vad_filter is not applied by the openai-whisper engine"]
        return Transcription(
            text="".join(s.text for s in segments).strip(),
            language=language,
            language_probability=None if probability is None else round(float(probability), 4),
            duration=round(duration, 3),
            model=self.config.model_name,
            task=options.task,
            segments=segments,
            warnings=warnings,
        )
