"""The batched decode task gives what stock openai-whisper gives: the same masks, the same tokens."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from handlers.whisper.asr import WhisperConfig
from handlers.whisper.openai_decoding import batched_task_class, timestamp_rules
from handlers.whisper.openai_engine import OpenAIWhisperASR
from scripts.paths import WHISPER_WEIGHTS
from tests.handlers.test_openai_engine import ENGLISH, RUSSIAN
from wire.audio import read_audio_file

torch = pytest.importorskip("torch")
decoding = pytest.importorskip("whisper.decoding")
tokenizer_module = pytest.importorskip("whisper.tokenizer")


@pytest.fixture(scope="module")
def engine() -> OpenAIWhisperASR:
    return OpenAIWhisperASR(WhisperConfig(engine="openai-whisper", model_path=str(WHISPER_WEIGHTS)))


def _random_history(rng: np.random.Generator, rows: int, length: int, begin: int) -> Any:
    """Token histories mixing text and timestamps, with pairs, lone stamps and stamps at the end."""
    history = np.where(
        rng.random((rows, length)) < 0.3,
        begin + rng.integers(0, 1501, (rows, length)),
        rng.integers(0, begin - 100, (rows, length)),
    )
    return torch.from_numpy(history.astype(np.int64))


@pytest.mark.parametrize("length", [0, 1, 2, 3, 7, 40])
def test_the_timestamp_rules_mask_exactly_what_the_stock_rules_mask(length: int) -> None:
    tokenizer = tokenizer_module.get_tokenizer(True, num_languages=99, language="en", task="transcribe")
    begin, sample_begin = tokenizer.timestamp_begin, 3
    rng = np.random.default_rng(length)
    for _ in range(20):
        sampled = _random_history(rng, 10, length, begin)
        tokens = torch.cat([torch.full((10, sample_begin), tokenizer.sot), sampled], dim=1)
        logits = torch.from_numpy(rng.standard_normal((10, begin + 1501)).astype(np.float32) * 4)
        # some rows where the stamps' summed mass wins, so that rule is exercised too
        logits[::3, begin:] += 6.0
        stock, ours = logits.clone(), logits.clone()
        decoding.ApplyTimestampRules(tokenizer, sample_begin, 50).apply(stock, tokens)
        timestamp_rules(ours, tokens, tokenizer, sample_begin, 50)
        assert torch.equal(torch.isinf(stock), torch.isinf(ours))
        assert torch.equal(stock[~torch.isinf(stock)], ours[~torch.isinf(ours)])


def _mel(engine: OpenAIWhisperASR, path: Any) -> Any:
    from whisper.audio import log_mel_spectrogram, pad_or_trim

    samples = torch.from_numpy(read_audio_file(path, 16000).samples)
    return log_mel_spectrogram(pad_or_trim(samples), n_mels=engine.model.dims.n_mels)


@pytest.mark.parametrize(("language", "clip"), [("en", ENGLISH[3]), ("ru", RUSSIAN[0]), (None, ENGLISH[7])])
def test_one_clip_decodes_to_the_stock_tokens_and_scores(
    engine: OpenAIWhisperASR, language: str | None, clip: Any
) -> None:
    options = decoding.DecodingOptions(language=language, beam_size=5, fp16=False)
    mel = _mel(engine, clip.path)[None]
    task = batched_task_class()(engine.model, options)
    # the replacements are in place: otherwise the stock loop would pass this test on its own
    assert type(task.decoder).__name__ == "OneSyncBeamSearch"
    assert "TensorTimestampRules" in {type(f).__name__ for f in task.logit_filters}
    with torch.inference_mode():
        stock = decoding.DecodingTask(engine.model, options).run(mel)[0]
        ours = task.run(mel)[0]
    assert ours.tokens == stock.tokens
    # cross-attention sees the clip repeated per beam rather than broadcast: other GEMM shapes, other rounding
    assert ours.avg_logprob == pytest.approx(stock.avg_logprob, rel=1e-5)
    assert ours.language == stock.language
    assert ours.text == stock.text and ours.text


def test_a_batch_decodes_each_clip_as_the_stock_loop_decodes_it_alone(engine: OpenAIWhisperASR) -> None:
    corpus = ENGLISH[:6]
    options = decoding.DecodingOptions(language="en", beam_size=5, fp16=False)
    mels = torch.stack([_mel(engine, c.path) for c in corpus])
    with torch.inference_mode():
        batched = batched_task_class()(engine.model, options).run(mels)
        alone = [decoding.DecodingTask(engine.model, options).run(mel[None])[0] for mel in mels]
    # a batched matmul may round differently from a single one; the words must still agree
    same = sum(b.tokens == a.tokens for b, a in zip(batched, alone, strict=True))
    assert same >= len(corpus) - 1, [(b.text, a.text) for b, a in zip(batched, alone, strict=True)]
    assert all(b.text for b in batched)


def test_each_row_is_prompted_with_its_own_text_as_the_stock_loop_prompts_it_alone(engine: OpenAIWhisperASR) -> None:
    """``row_prompts``: clips with different text so far (one length) share a decode, each row as the
    stock loop decodes its clip with that prompt; a prompt of another length is refused, not misread."""
    corpus = ENGLISH[:3]
    tokenizer = tokenizer_module.get_tokenizer(True, num_languages=99, language="en", task="transcribe")
    # the second prompt's style (no capitals, no punctuation) is one Whisper follows: its clip's text changes
    texts = [" Governor Philip sailed to England.", " okay so um i dont really use any punctuation", " Awake ye kings!"]
    encoded = [tokenizer.encode(t) for t in texts]
    shared = min(len(p) for p in encoded)
    prompts = [p[len(p) - shared :] for p in encoded]
    mels = torch.stack([_mel(engine, c.path) for c in corpus])
    options = decoding.DecodingOptions(language="en", beam_size=5, fp16=False, prompt=prompts[0])
    with torch.inference_mode():
        batched = batched_task_class()(engine.model, options, None, prompts).run(mels)
        alone = [
            decoding.DecodingTask(engine.model, decoding.DecodingOptions(**{**options.__dict__, "prompt": p})).run(
                mel[None]
            )[0]
            for mel, p in zip(mels, prompts, strict=True)
        ]
        misread = decoding.DecodingTask(engine.model, options).run(mels[1][None])[0]  # the first row's prompt
    assert misread.tokens != alone[1].tokens, (misread.text, alone[1].text)
    same = sum(b.tokens == a.tokens for b, a in zip(batched, alone, strict=True))
    assert same >= len(corpus) - 1, [(b.text, a.text) for b, a in zip(batched, alone, strict=True)]
    assert batched[1].tokens == alone[1].tokens, (batched[1].text, alone[1].text)
    with pytest.raises(ValueError, match="row prompts"):
        batched_task_class()(engine.model, options, None, [prompts[0], prompts[1][1:]])


def test_each_row_samples_at_its_own_temperature(engine: OpenAIWhisperASR) -> None:
    """``row_temperatures``: a row near 0 samples what greedy decoding picks; a hot row beside it does not."""
    mels = torch.stack([_mel(engine, c.path) for c in ENGLISH[:2]])
    greedy = decoding.DecodingOptions(language="en", fp16=False)
    sampled = decoding.DecodingOptions(language="en", fp16=False, temperature=0.001)
    torch.manual_seed(0)
    with torch.inference_mode():
        expected = batched_task_class()(engine.model, greedy).run(mels)
        cool = batched_task_class()(engine.model, sampled, None, None, [0.001, 0.001]).run(mels)
        mixed = batched_task_class()(engine.model, sampled, None, None, [0.001, 5.0]).run(mels)
    assert [r.tokens for r in cool] == [r.tokens for r in expected]
    assert mixed[0].tokens == expected[0].tokens and mixed[1].tokens != expected[1].tokens, mixed[1].text
    with pytest.raises(ValueError, match="row temperatures"):
        batched_task_class()(engine.model, decoding.DecodingOptions(beam_size=5, fp16=False), None, None, [0.2])
