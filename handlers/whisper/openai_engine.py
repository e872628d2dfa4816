"""Whisper on PyTorch (openai-whisper) for ``engine: openai-whisper``: a TorchServe batch is one decode.

For GPU nodes whose CUDA libraries CTranslate2 cannot use (and as the reference implementation):
the same Whisper base weights, converted at build time (``ct2_checkpoint.py``), CUDA + float16 when
a GPU is there, CPU + float32 otherwise. Clips of up to 30 s whose options can share a call (task,
beam, prompt, temperature, token cap; any given language, each clip's own token in its prompt) go
through ``whisper.decode`` as one stacked mel batch: one encoder pass and one batched beam search. Per clip afterwards: segments cut at the
timestamp tokens, word times by cross-attention alignment when asked, and the same "no speech"
rule faster-whisper applies. What this engine does not do is said, not skipped: ``hotwords`` is a
400; ``vad_filter`` is not applied (a warning says so); a clip longer than 30 s is decoded alone by
openai-whisper's own long-form loop; no temperature fallback ladder.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any

import numpy as np

from handlers.whisper.openai_decoding import batched_task_class
from wire.envelope import MODEL_SAMPLE_RATE
from wire.errors import ErrorKind, WireError
from wire.options import DecodeOptions
from wire.transcript import HALLUCINATION, Segment, Transcription, Word

__all__ = ["CHECKPOINT", "OpenAIWhisperASR"]

log = logging.getLogger(__name__)

CHECKPOINT = "openai-whisper.pt"  # written beside model.bin by model-store/build.py
_WINDOW_SEC = 30.0
_SEC_PER_TIMESTAMP = 0.02
_NO_SPEECH = 0.6  # faster-whisper's no_speech_threshold


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
        self._torch = torch

    def transcribe_many(self, jobs: list[tuple[np.ndarray, DecodeOptions]]) -> list[Transcription | Exception]:
        results: list[Transcription | Exception | None] = [None] * len(jobs)
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, (audio, options) in enumerate(jobs):
            if options.hotwords:
                results[i] = WireError(ErrorKind.INVALID_REQUEST, "hotwords need the faster-whisper engine")
            elif len(audio) / MODEL_SAMPLE_RATE > self.config.max_audio_sec:
                results[i] = WireError(ErrorKind.TOO_LONG, f"audio longer than {self.config.max_audio_sec:g} s")
            elif len(audio) / MODEL_SAMPLE_RATE > _WINDOW_SEC:
                groups[("long", i)].append(i)  # openai-whisper's long-form loop, alone
            else:
                key = (
                    options.task,
                    options.language is None,  # detection decodes apart from clips whose language is given
                    options.beam_size,
                    options.initial_prompt,
                    options.temperature,
                    options.max_new_tokens,
                )
                groups[key].append(i)
        for key, members in groups.items():
            try:
                if key[0] == "long":
                    [i] = members
                    results[i] = self._long(*jobs[i])
                else:
                    for i, result in zip(members, self._batch([jobs[i] for i in members]), strict=True):
                        results[i] = result
            except Exception as exc:  # reported per item by the shell
                log.exception("openai-whisper decode failed")
                for i in members:
                    results[i] = exc
        return [r if r is not None else RuntimeError("not decoded") for r in results]

    # One decode per group -----------------------------------------------------------------
    def _batch(self, jobs: list[tuple[np.ndarray, DecodeOptions]]) -> list[Transcription]:
        from whisper.audio import log_mel_spectrogram, pad_or_trim
        from whisper.decoding import DecodingOptions
        from whisper.tokenizer import get_tokenizer

        torch = self._torch
        options = jobs[0][1]
        mels = torch.stack(
            [
                log_mel_spectrogram(  # on the model's device: on a GPU the STFT of 32 windows is free there
                    pad_or_trim(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))),
                    n_mels=self.model.dims.n_mels,
                    device=self.device,
                )
                for audio, _ in jobs
            ]
        )
        decode_options = DecodingOptions(
            task=options.task,
            language=options.language,
            temperature=options.temperature or 0.0,
            beam_size=options.beam_size if options.beam_size > 1 and not options.temperature else None,
            best_of=None,
            prompt=options.initial_prompt,
            sample_len=options.max_new_tokens,
            fp16=self.fp16,
        )
        given = [opts.language for _, opts in jobs if opts.language]  # all of the group's, or none (detection)
        decoded = self.decode(mels, decode_options, given or None)
        out = []
        for (audio, opts), result, mel in zip(jobs, decoded, mels, strict=True):
            tokenizer = get_tokenizer(
                self.model.is_multilingual,
                num_languages=self.model.num_languages,
                language=result.language,
                task=opts.task,
            )
            duration = len(audio) / MODEL_SAMPLE_RATE
            segments = self._segments(result, tokenizer, duration)
            if opts.word_timestamps and segments:
                segments = self._with_words(segments, tokenizer, mel, duration)
            probability = (result.language_probs or {}).get(result.language) if result.language_probs else None
            out.append(self._transcription(segments, result.language, probability, duration, opts))
        return out

    def decode(self, mels: Any, options: Any, languages: list[str] | None = None) -> list[Any]:
        """One batched decode of stacked mels (one encoder pass, one beam search for all of them);
        ``languages``: each clip's own (None: ``options.language`` for all, or detection)."""
        with self._torch.inference_mode():
            return batched_task_class()(self.model, options, languages).run(mels)  # type: ignore[no-any-return]

    def _segments(self, result: Any, tokenizer: Any, duration: float) -> list[Segment]:
        """Segments between the timestamp tokens of one decode, as openai-whisper's transcribe cuts them."""
        if result.no_speech_prob > _NO_SPEECH and result.avg_logprob < HALLUCINATION.min_avg_logprob:
            return []  # the model's own verdict: no speech here
        tokens = [t for t in result.tokens if t < tokenizer.eot or t >= tokenizer.timestamp_begin]
        is_ts = [t >= tokenizer.timestamp_begin for t in tokens]
        cuts = [i for i in range(1, len(tokens)) if is_ts[i] and is_ts[i - 1]]
        spans, start = [], 0
        for cut in cuts:
            spans.append(tokens[start:cut])
            start = cut
        spans.append(tokens[start:])
        segments: list[Segment] = []
        for span in spans:
            text_tokens = [t for t in span if t < tokenizer.eot]
            if not text_tokens:
                continue
            stamps = [
                (t - tokenizer.timestamp_begin) * _SEC_PER_TIMESTAMP for t in span if t >= tokenizer.timestamp_begin
            ]
            begin = stamps[0] if stamps else 0.0
            end = stamps[-1] if len(stamps) > 1 else duration
            segments.append(
                Segment(
                    id=len(segments),
                    start=round(min(begin, duration), 3),
                    end=round(min(max(end, begin), duration), 3),
                    text=tokenizer.decode(text_tokens),
                    avg_logprob=round(float(result.avg_logprob), 4),
                    no_speech_prob=round(float(result.no_speech_prob), 4),
                    tokens=[int(t) for t in span],
                    temperature=float(result.temperature),
                    compression_ratio=round(float(result.compression_ratio), 4),
                )
            )
        return segments

    def _with_words(self, segments: list[Segment], tokenizer: Any, mel: Any, duration: float) -> list[Segment]:
        from whisper.timing import add_word_timestamps

        frames = min(mel.shape[-1], round(duration * 100))  # the encoder takes the full padded window
        raw: list[dict[str, Any]] = [
            {
                "seek": 0,
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

    def _long(self, audio: np.ndarray, options: DecodeOptions) -> Transcription:
        from whisper.transcribe import transcribe

        result = transcribe(
            self.model,
            np.ascontiguousarray(audio, dtype=np.float32),
            task=options.task,
            language=options.language,
            initial_prompt=options.initial_prompt,
            word_timestamps=options.word_timestamps,
            beam_size=options.beam_size if options.beam_size > 1 else None,
            fp16=self.fp16,
            verbose=None,
        )
        segments = [
            Segment(
                id=i,
                start=round(float(s["start"]), 3),
                end=round(float(s["end"]), 3),
                text=s["text"],
                avg_logprob=round(float(s["avg_logprob"]), 4),
                no_speech_prob=round(float(s["no_speech_prob"]), 4),
                seek=int(s["seek"]),
                tokens=[int(t) for t in s["tokens"]],
                temperature=float(s["temperature"]),
                compression_ratio=round(float(s["compression_ratio"]), 4),
                words=[
                    Word(round(w["start"], 3), round(w["end"], 3), w["word"], round(float(w["probability"]), 3))
                    for w in s.get("words", [])
                ]
                if options.word_timestamps
                else None,
            )
            for i, s in enumerate(result["segments"])
        ]
        return self._transcription(segments, result.get("language"), None, len(audio) / MODEL_SAMPLE_RATE, options)

    def _transcription(
        self,
        segments: list[Segment],
        language: str | None,
        probability: float | None,
        duration: float,
        options: DecodeOptions,
    ) -> Transcription:
        warnings = ["vad_filter is not applied by the openai-whisper engine"] if options.vad_filter else []
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
