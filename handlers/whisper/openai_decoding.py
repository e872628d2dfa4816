"""openai-whisper's decoding loop made fit for batches: one decode task, fixed and without per-row syncs.

Stock ``whisper.decode`` is written for one clip on a GPU: its beam search and its timestamp rules walk
the rows of the batch in Python and read each candidate back with ``.item()``/``.tolist()``, about a
dozen device syncs per row per token. With 32 clips x beam 5 that is ~2,000 syncs per token, and on
an H200 a batch of 32 windows took longer per window than a batch of 8 (scripts/gpu_check.py). Here
the same arithmetic is done per step on whole tensors, with one small copy to the host for the beam
bookkeeping; the result is the same tokens (tests/handlers/test_openai_decoding.py checks it against
the stock classes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["batched_task_class", "timestamp_rules"]


def timestamp_rules(logits: Any, tokens: Any, tokenizer: Any, sample_begin: int, max_initial: int | None) -> None:
    """Whisper's timestamp rules (``ApplyTimestampRules.apply``) on all rows at once, in place."""
    import torch

    neg_inf = float("-inf")
    begin, eot = tokenizer.timestamp_begin, tokenizer.eot
    if tokenizer.no_timestamps is not None:
        logits[:, tokenizer.no_timestamps] = neg_inf
    sampled = tokens[:, sample_begin:]
    n = sampled.shape[1]
    if n:
        is_stamp = sampled >= begin
        last = is_stamp[:, -1]
        penultimate = is_stamp[:, -2] if n >= 2 else torch.ones_like(last)
        # stamps come in pairs, except just before EOT: after a pair, text; after a lone stamp, no text
        logits[:, begin:].masked_fill_((last & penultimate)[:, None], neg_inf)
        logits[:, :eot].masked_fill_((last & ~penultimate)[:, None], neg_inf)
        # stamps never go back, and a segment is never empty (no infinite loop of equal stamps)
        has_stamp = is_stamp.any(dim=1)
        last_at = (n - 1) - is_stamp.flip(1).int().argmax(dim=1)
        last_stamp = sampled.gather(1, last_at[:, None]).squeeze(1)
        limit = torch.where(last & ~penultimate, last_stamp, last_stamp + 1)
        columns = torch.arange(logits.shape[1], device=logits.device)
        banned = (columns[None, :] >= begin) & (columns[None, :] < limit[:, None]) & has_stamp[:, None]
        logits.masked_fill_(banned, neg_inf)
    if tokens.shape[1] == sample_begin:
        logits[:, :begin] = neg_inf  # a window starts with a stamp
        if max_initial is not None:
            logits[:, begin + max_initial + 1 :] = neg_inf
    # when the stamps together are likelier than any text token, a stamp it is
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    stamp_mass = logprobs[:, begin:].logsumexp(dim=-1)
    best_text = logprobs[:, :begin].max(dim=-1).values
    logits[:, :begin].masked_fill_((stamp_mass > best_text)[:, None], neg_inf)


@functools.cache
def batched_task_class() -> Any:
    """The decode task for a batch of clips (built once, on first use: openai-whisper loads lazily).

    Seven changes to ``whisper.decoding.DecodingTask``:
    - beam search over several clips works: since openai/whisper#1483 the encoder output is no longer
      repeated per beam, which only broadcasts for one clip (openai/whisper#2197, still open); here
      it is repeated as the rest of ``run`` expects, and language detection sees one row per clip;
    - the beam update reads the step's top candidates back to the host once, not per row;
    - the timestamp rules run on all rows at once (``timestamp_rules``);
    - clips of different languages share a decode: ``row_languages`` puts each clip's language token
      in its own prompt, where openai-whisper writes the detected ones when it detects;
    - clips with different text so far share a decode: ``row_prompts`` (each as long as the options'
      prompt) are written in place of the options' prompt, row by row;
    - clips sampled at different temperatures share a decode: ``row_temperatures`` (the results still
      carry the options' temperature: the caller knows each row's);
    - one window sampled at several temperatures is encoded once: with ``row_repeats`` k the mels come
      in runs of k equal rows, and the encoder sees one row of each run;
    - those k rows are the rungs of one window's fallback ladder, in order, and with ``rung_passes`` a
      window's later rungs stop as soon as its outcome is known (``_settle``) and come back as None.
    """
    import torch
    import torch.nn.functional as F
    from torch.distributions import Categorical
    from whisper.decoding import ApplyTimestampRules, BeamSearchDecoder, DecodingTask, GreedyDecoder

    class RowTemperatureSampling(GreedyDecoder):
        """``GreedyDecoder``'s sampling with each row at its own temperature (all above 0)."""

        def __init__(self, temperatures: list[float], eot: int, settle: Callable[..., list[int]] | None) -> None:
            super().__init__(temperatures[0], eot)
            self.row_temperatures = temperatures
            self.settle = settle  # (tokens, sum_logprobs, ended) -> rows to stop now: BatchedTask._settle

        def update(self, tokens: Any, logits: Any, sum_logprobs: Any) -> tuple[Any, bool]:
            scale = torch.tensor(self.row_temperatures, dtype=logits.dtype, device=logits.device)[:, None]
            next_tokens = Categorical(logits=logits / scale).sample()
            logprobs = F.log_softmax(logits.float(), dim=-1)
            current = logprobs[torch.arange(logprobs.shape[0]), next_tokens]
            finished = tokens[:, -1] == self.eot
            sum_logprobs += current * ~finished
            next_tokens[finished] = self.eot
            tokens = torch.cat([tokens, next_tokens[:, None]], dim=-1)
            if self.settle is None:
                return tokens, bool((tokens[:, -1] == self.eot).all())
            ended = (tokens[:, -1] == self.eot).tolist()  # the step's one sync, as without settle
            stop = [row for row in self.settle(tokens, sum_logprobs, ended) if not ended[row]]
            if stop:  # a stopped row ends here, as if it had sampled EOT: it is never read
                tokens[stop, -1] = self.eot
            return tokens, len(stop) + sum(ended) == len(ended)

    class OneSyncBeamSearch(BeamSearchDecoder):
        finished_sequences: list[dict[tuple[int, ...], float]] | None

        def update(self, tokens: Any, logits: Any, sum_logprobs: Any) -> tuple[Any, bool]:
            beam = self.beam_size
            if tokens.shape[0] % beam != 0:
                raise ValueError(f"{tokens.shape}[0] % {beam} != 0")
            n_audio = tokens.shape[0] // beam
            if self.finished_sequences is None:
                self.finished_sequences = [{} for _ in range(n_audio)]
            top_logprobs, top_tokens = F.log_softmax(logits.float(), dim=-1).topk(beam + 1)
            # the same float32 sums the stock loop forms one by one with .item()
            candidate_scores = (sum_logprobs[:, None] + top_logprobs).tolist()
            candidate_tokens = top_tokens.tolist()
            prefixes = tokens.tolist()
            next_tokens: list[tuple[int, ...]] = []
            source_indices: list[int] = []
            next_scores: list[float] = []
            newly_finished: list[dict[tuple[int, ...], float]] = []
            for i in range(n_audio):
                scores: dict[tuple[int, ...], float] = {}
                sources: dict[tuple[int, ...], int] = {}
                for idx in range(i * beam, (i + 1) * beam):
                    for score, token in zip(candidate_scores[idx], candidate_tokens[idx], strict=True):
                        sequence = (*prefixes[idx], token)
                        scores[sequence] = score
                        sources[sequence] = idx
                finished: dict[tuple[int, ...], float] = {}
                saved = 0
                for sequence in sorted(scores, key=scores.__getitem__, reverse=True):
                    if sequence[-1] == self.eot:
                        finished[sequence] = scores[sequence]
                    else:
                        next_scores.append(scores[sequence])
                        next_tokens.append(sequence)
                        source_indices.append(sources[sequence])
                        saved += 1
                        if saved == beam:
                            break
                newly_finished.append(finished)
            sum_logprobs[: len(next_scores)] = torch.tensor(next_scores, dtype=sum_logprobs.dtype).to(
                sum_logprobs.device
            )
            tokens = torch.tensor(next_tokens, device=tokens.device)
            self.inference.rearrange_kv_cache(source_indices)
            for previously, newly in zip(self.finished_sequences, newly_finished, strict=True):
                for sequence in sorted(newly, key=newly.__getitem__, reverse=True):
                    if len(previously) >= self.max_candidates:
                        break
                    previously[sequence] = newly[sequence]
            completed = all(len(done) >= self.max_candidates for done in self.finished_sequences)
            return tokens, completed

    class TensorTimestampRules(ApplyTimestampRules):
        def apply(self, logits: Any, tokens: Any) -> None:
            timestamp_rules(logits, tokens, self.tokenizer, self.sample_begin, self.max_initial_timestamp_index)

    class BatchedTask(DecodingTask):
        decoder: Any
        logit_filters: list[Any]

        def __init__(
            self,
            model: Any,
            options: Any,
            row_languages: list[str] | None = None,
            row_prompts: list[list[int]] | None = None,
            row_temperatures: list[float] | None = None,
            row_repeats: int = 1,
            rung_passes: Callable[[float, float, float], bool] | None = None,
        ) -> None:
            super().__init__(model, options)
            self.row_languages = row_languages
            self.row_prompts = row_prompts
            self.row_repeats = row_repeats
            self.rung_passes = rung_passes
            self._judged: dict[int, bool] = {}  # first row of a finished rung -> whether it passes
            self._kept: dict[int, int] = {}  # window -> the rung that passed; the rungs after it stopped
            self._no_speech: list[float] | None = None
            if row_temperatures is not None:
                if self.n_group < 1 or options.beam_size is not None or min(row_temperatures) <= 0:
                    raise ValueError("row temperatures are for sampling, each above 0")
                per_row = [t for t in row_temperatures for _ in range(self.n_group)]  # best_of rows per clip
                settle = self._settle if rung_passes is not None and row_repeats > 1 else None
                self.decoder = RowTemperatureSampling(per_row, self.tokenizer.eot, settle)
                if settle is not None:
                    self._keep_no_speech()
            if row_prompts is not None:
                length = len(options.prompt or ())
                if self.initial_tokens[0] != self.tokenizer.sot_prev or any(len(p) != length for p in row_prompts):
                    raise ValueError(f"row prompts must each be {length} tokens, as the options' prompt")
            if isinstance(self.decoder, BeamSearchDecoder):
                self.decoder = OneSyncBeamSearch(
                    self.decoder.beam_size, self.decoder.eot, self.inference, self.decoder.patience
                )
            self.logit_filters = [
                TensorTimestampRules(f.tokenizer, f.sample_begin, f.max_initial_timestamp_index)
                if isinstance(f, ApplyTimestampRules)
                else f
                for f in self.logit_filters
            ]

        def run(self, mel: Any) -> list[Any]:
            """``DecodingTask.run``, with None for each rung stopped after the one that passed."""
            results: list[Any] = super().run(mel)
            for window, kept in self._kept.items():
                for rung in range(kept + 1, self.row_repeats):
                    results[window * self.row_repeats + rung] = None
            return results

        def _keep_no_speech(self) -> None:
            """Keep each row's no-speech probability from the first step's logits, computed as
            ``_main_loop`` computes the one it returns (which ``_settle`` cannot see)."""
            logits_of = self.inference.logits
            no_speech = self.tokenizer.no_speech

            def logits(tokens: Any, audio_features: Any) -> Any:
                out = logits_of(tokens, audio_features)
                if self._no_speech is None:
                    probs = out[:, self.sot_index].float().softmax(dim=-1)
                    self._no_speech = (
                        [float("nan")] * out.shape[0] if no_speech is None else probs[:, no_speech].tolist()
                    )
                return out

            self.inference.logits = logits

        def _settle(self, tokens: Any, sum_logprobs: Any, ended: list[bool]) -> list[int]:
            """Rows to stop: the rungs after the first that passes, once every rung before it has ended.

            The ladder (the caller's) reads a window's rungs in order and keeps the first that passes
            (``rung_passes``), so once that rung and all before it have ended, the rungs after it can
            only cost steps: a hot rung that loops would run to the token cap, and the decode with it.
            A rung is judged as ``run`` would return it: the best of its samples by the ranker, its
            text's compression ratio, its average log-probability, the window's no-speech probability."""
            assert self.rung_passes is not None and self._no_speech is not None
            group, rungs = self.n_group, self.row_repeats
            stop: list[int] = []
            for window in range(len(ended) // (group * rungs)):
                if window in self._kept:
                    continue
                for rung in range(rungs):
                    first = (window * rungs + rung) * group
                    if not all(ended[first : first + group]):
                        break
                    if first not in self._judged:
                        self._judged[first] = self._passes(tokens, sum_logprobs, first)
                    if self._judged[first]:
                        self._kept[window] = rung
                        stop.extend(range(first + group, (window + 1) * rungs * group))
                        break
            return stop

        def _passes(self, tokens: Any, sum_logprobs: Any, first: int) -> bool:
            from whisper.utils import compression_ratio

            assert self.rung_passes is not None and self._no_speech is not None
            eot, rows = self.tokenizer.eot, range(first, first + self.n_group)
            samples = [row[self.sample_begin : row.index(eot)] for row in tokens[rows.start : rows.stop].tolist()]
            logprobs = sum_logprobs[rows.start : rows.stop].tolist()
            best = int(self.sequence_ranker.rank([samples], [logprobs])[0])
            text = self.tokenizer.decode(samples[best]).strip()
            average = logprobs[best] / (len(samples[best]) + 1)
            return self.rung_passes(compression_ratio(text), average, self._no_speech[first])

        def _get_audio_features(self, mel: Any) -> Any:
            if mel.shape[0] % self.row_repeats:
                raise ValueError(f"{mel.shape[0]} rows are not runs of {self.row_repeats}")
            features = super()._get_audio_features(mel[:: self.row_repeats])
            return features.repeat_interleave(self.row_repeats * self.n_group, dim=0)

        def _detect_language(self, audio_features: Any, tokens: Any) -> Any:
            # run() calls this once on the initial tokens, before the decoding loop: the one place to
            # write each row's own prompt (after <|startofprev|>) and language token
            if self.row_prompts is not None:
                prompts = torch.tensor(self.row_prompts, dtype=tokens.dtype)
                tokens[:, 1 : 1 + prompts.shape[1]] = prompts
            if self.row_languages is None:
                return super()._detect_language(audio_features[:: self.n_group], tokens)
            if len(self.row_languages) != tokens.shape[0]:
                raise ValueError(f"{len(self.row_languages)} languages for {tokens.shape[0]} clips")
            ids = [self.tokenizer.to_language_token(language) for language in self.row_languages]
            tokens[:, self.sot_index + 1] = torch.tensor(ids, dtype=tokens.dtype)
            return list(self.row_languages), None

    return BatchedTask
