"""The whisper handler without a server: real model, real clips, batches with bad items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval.textnorm import normalize, wer
from handlers.common.options import load_options
from handlers.whisper.asr import WhisperConfig
from handlers.whisper.handler import WhisperHandler
from tests.handlers.context import Context, load_handler
from tests.handlers.spies import CallSizes, record_prefetch
from wire.audio import DecodeLimits, read_audio_file
from wire.envelope import read_request
from wire.errors import WireError
from wire.options import DecodeOptions


@pytest.fixture(scope="module")
def handler() -> tuple[WhisperHandler, Context]:
    return load_handler(WhisperHandler, "whisper")  # type: ignore[no-any-return]


def _pcm_item(audio: np.ndarray, fmt: str, **params: Any) -> dict[str, Any]:
    dtype = "<i2" if fmt == "s16le" else "<f4"
    data = (audio * 32768).astype(dtype) if fmt == "s16le" else audio.astype(dtype)
    return {"audio": bytearray(data.tobytes()), "params": {"format": fmt, "sample_rate": 16000, **params}}


def test_batch_with_a_bad_item_answers_each_on_its_own(handler: tuple[WhisperHandler, Context], data_dir: Path) -> None:
    service, ctx = handler
    ctx.statuses.clear()

    ru = read_audio_file(data_dir / "mozilla__DeepSpeech" / "ru.wav", 16000).samples
    batch = [
        {"body": bytearray((data_dir / "openai__whisper" / "jfk.flac").read_bytes())},  # any container, direct call
        {"data": bytearray(b"this is not audio")},
        _pcm_item(ru, "f32le", language="ru"),
        _pcm_item(ru, "s16le", language="ru", beam_size=1),
        {"audio": bytearray(b"\x00\x01\x02"), "params": json.dumps({"format": "s16le"}).encode()},
        _pcm_item(ru, "s16le", language="klingon"),
    ]
    out = service.handle(batch, ctx)
    assert len(out) == len(batch)
    assert "ask what you can do for your country" in normalize(out[0]["text"])
    assert out[0]["language"] == "en" and out[0]["duration"] == pytest.approx(11.0, abs=0.01)
    assert ctx.statuses[1][0] == 400 and "undecodable" in out[1]["detail"]
    for idx in (2, 3):
        assert out[idx]["language"] == "ru"
        assert "на его месте" in normalize(out[idx]["text"])
    assert ctx.statuses[4][0] == 400 and "whole number" in out[4]["detail"]
    assert ctx.statuses[5][0] == 400 and "unsupported language" in out[5]["detail"]
    assert set(ctx.statuses) == {1, 4, 5}


def test_word_timestamps_and_translate(handler: tuple[WhisperHandler, Context], data_dir: Path) -> None:
    service, ctx = handler
    jfk = bytearray((data_dir / "openai__whisper" / "jfk.flac").read_bytes())
    [result] = service.handle([{"body": jfk, "params": {"word_timestamps": True, "language": "en"}}], ctx)
    words = [w for s in result["segments"] for w in s["words"]]
    assert len(words) >= 20
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and words[-1]["end"] <= 11.0 + 0.01


def test_options_come_from_yaml_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_options(WhisperConfig, {"beam_size": 3, "device": "cpu"}, "WHISPER")
    assert (config.beam_size, config.device) == (3, "cpu")
    monkeypatch.setenv("WHISPER_BEAM_SIZE", "2")
    monkeypatch.setenv("WHISPER_MODEL_PATH", "/models/large-v3")
    monkeypatch.setenv("WHISPER_VAD_FILTER", "true")
    config = load_options(WhisperConfig, {"beam_size": 3}, "WHISPER")
    assert (config.beam_size, config.model_path, config.vad_filter) == (2, "/models/large-v3", True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"language": "xx"}, "unsupported language"),
        ({"task": "summarize"}, "task"),
        ({"beam_size": 0}, "beam_size"),
        ({"beam_size": "many"}, "integer"),
        ({"temperature": 2}, "temperature"),
        ({"word_timestamps": "maybe"}, "word_timestamps"),
        ({"fit_window": "sometimes"}, "fit_window"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 221}, "max_new_tokens"),
        ({"max_new_tokens": "lots"}, "integer"),
        ({"skip_tail_sec": -1}, "skip_tail_sec"),
        ({"skip_tail_sec": 31}, "skip_tail_sec"),
        ({"initial_prompt": "x" * 5000}, "initial_prompt"),
    ],
)
def test_parse_options_rejects(params: dict[str, Any], message: str) -> None:
    with pytest.raises(WireError, match=message):
        DecodeOptions.parse(params)


def test_parse_options_defaults_and_auto_language() -> None:
    opts = DecodeOptions.parse({"language": "auto"}, default_beam_size=4)
    assert opts.language is None and opts.beam_size == 4 and opts.task == "transcribe"
    assert DecodeOptions.parse({"language": "RU"}).language == "ru"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({}, "no audio"),
        ({"audio": b"", "params": {"format": "s16le"}}, "empty"),
        ({"audio": np.array([np.nan], "<f4").tobytes(), "params": {"format": "f32le"}}, "NaN"),
        ({"audio": b"\x00\x00", "params": {"format": "u8"}}, "unknown format"),
        ({"audio": b"\x00\x00", "params": {"format": "s16le", "sample_rate": 8000}}, "16000"),
        ({"audio": b"\x00\x00", "params": b"{not json"}, "JSON"),
        ({"body": {"instances": [1]}}, "binary"),
    ],
)
def test_decode_item_rejects(item: dict[str, Any], message: str) -> None:
    with pytest.raises(WireError, match=message):
        read_request(item, DecodeLimits(max_seconds=600), 16000)


def test_fit_window_encodes_less_and_hears_the_same(
    handler: tuple[WhisperHandler, Context], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faster_whisper.transcribe as fw

    service, ctx = handler
    seen: list[int] = []
    storage = fw.get_ctranslate2_storage

    def spy(features: np.ndarray) -> Any:
        seen.append(features.shape[-1])
        return storage(features)

    monkeypatch.setattr(fw, "get_ctranslate2_storage", spy)
    jfk = bytearray((data_dir / "openai__whisper" / "jfk.flac").read_bytes())
    texts = {}
    for fit in (False, True):
        seen.clear()
        [out] = service.handle([{"body": jfk, "params": {"language": "en", "fit_window": fit}}], ctx)
        texts[fit] = normalize(out["text"])
        # 11 s of audio + 5 s of padding = 1600 mel frames instead of Whisper's 3000
        assert set(seen) == ({1600} if fit else {3000})
    assert "ask what you can do for your country" in texts[True]
    assert texts[True] == texts[False]


def test_max_new_tokens_caps_the_text_of_a_window(handler: tuple[WhisperHandler, Context], data_dir: Path) -> None:
    service, ctx = handler
    jfk = bytearray((data_dir / "openai__whisper" / "jfk.flac").read_bytes())
    [full] = service.handle([{"body": jfk, "params": {"language": "en"}}], ctx)
    [capped] = service.handle([{"body": jfk, "params": {"language": "en", "max_new_tokens": 6}}], ctx)
    assert sum(len(s["tokens"]) for s in full["segments"]) > 20
    assert sum(len(s["tokens"]) for s in capped["segments"]) <= 6 + 2  # + the timestamp tokens around the text
    assert normalize(capped["text"]) and normalize(full["text"]).startswith(normalize(capped["text"])[:10])


def test_a_batch_decodes_its_first_windows_together_with_the_same_result(
    handler: tuple[WhisperHandler, Context], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    service, _ = handler
    asr = service.asr
    clips = [
        (data_dir / "openai__whisper" / "jfk.flac", "en"),
        (data_dir / "ggerganov__whisper.cpp_pr2824_hifitts6097/audio/presentpictureofnsw_05_mann_0592.wav", "en"),
        (data_dir / "mozilla__DeepSpeech" / "ru.wav", "ru"),
        (data_dir / "ekhodzitsky__gigastt/golos_fixtures/golos_12.wav", "ru"),
    ]
    audio = [read_audio_file(path, 16000).samples for path, _ in clips]
    file_pieces = [DecodeOptions(language=lang) for _, lang in clips]  # beam 5, the fallback ladder, 30 s windows
    fitted = [  # fitted windows of different lengths, a prompt, word times, VAD, a token cap
        DecodeOptions(
            language=lang,
            beam_size=2,
            temperature=0.0,
            word_timestamps=True,
            vad_filter=True,
            fit_window=True,
            max_new_tokens=200,
            initial_prompt="Well,",
        )
        for _, lang in clips
    ]
    # live-stream decodes: greedy, per-clip caps (the loop guard first runs half)
    streams = [
        dataclasses.replace(options, beam_size=1, max_new_tokens=160 + 10 * i) for i, options in enumerate(fitted)
    ]
    prepared = record_prefetch(monkeypatch)
    calls = CallSizes(asr.model.model)
    monkeypatch.setattr(asr.model, "model", calls)
    texts = {}
    for name, options in (("files", file_pieces), ("fitted", fitted), ("streams", streams)):
        jobs = list(zip(audio, options, strict=True))
        for batched in (False, True):
            monkeypatch.setattr(asr, "config", dataclasses.replace(asr.config, batch_first_window=batched))
            calls.label((name, batched))
            results = asr.transcribe_many(jobs)
            assert not any(isinstance(r, Exception) for r in results)
            texts[name, batched] = [normalize(r.text) for r in results]  # type: ignore[union-attr]
            if name == "files":
                texts[name, batched, "times"] = [[(s.start, s.end) for s in r.segments] for r in results]  # type: ignore[union-attr]
    # full windows: English and Russian clips in one generate (the language is a token of each
    # prompt), each window encoded alone on a CPU, and exactly the one-by-one transcripts
    assert sorted(prepared[0]) == [0, 1, 2, 3]
    assert ("generate", 4) in calls.batches["files", True] and ("encode", 4) not in calls.batches["files", True]
    assert max(n for _, n in calls.batches["files", False]) == 1
    assert texts["files", True] == texts["files", False]
    assert texts["files", True, "times"] == texts["files", False, "times"]
    # fitted windows share a call padded to the longest of their group: the same words, give or take
    assert sorted(prepared[1]) == [0, 1, 2, 3] and prepared[1][0] == prepared[1][1]
    for alone, together in zip(texts["fitted", False], texts["fitted", True], strict=True):
        assert together and wer([alone], [together]) <= 0.15
    # greedy decodings on a CPU go side by side on the worker threads, each exactly as alone
    assert prepared[2] == {}
    assert texts["streams", True] == texts["streams", False] and all(texts["streams", True])


def test_a_gpu_ctranslate2_cannot_use_falls_back_to_the_cpu_under_auto_and_is_refused_under_cuda(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    """What the H200 showed: the CUDA 12 wheel counts a CUDA 13 GPU, then cannot load cuBLAS (injected here)."""
    import ctranslate2

    from handlers.whisper import asr
    from scripts.paths import WHISPER_WEIGHTS

    real = asr.engine_class()

    class CudaOf13(real):  # type: ignore[misc,valid-type]
        def __init__(self, path: str, *, device: str, **kwargs: Any) -> None:
            self.on_gpu = device == "cuda"
            super().__init__(path, device="cpu", **{**kwargs, "compute_type": "int8"})
            if self.on_gpu:
                self.model = _Unloadable(self.model)

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setattr(asr, "engine_class", lambda: CudaOf13)
    auto = asr.WhisperASR(WhisperConfig(model_path=str(WHISPER_WEIGHTS)))
    assert (auto.device, auto.compute_type) == ("cpu", "int8")
    assert not auto.model.on_gpu
    jfk = read_audio_file(data_dir / "openai__whisper" / "jfk.flac", 16000).samples
    assert "ask not what your country" in normalize(auto.transcribe(jfk, DecodeOptions(language="en")).text)
    with pytest.raises(RuntimeError, match="engine: openai-whisper"):
        asr.WhisperASR(WhisperConfig(model_path=str(WHISPER_WEIGHTS), device="cuda"))


class _Unloadable:
    """A CTranslate2 model whose first matrix product needs a CUDA library the node lacks."""

    def __init__(self, model: Any) -> None:
        self.n_mels = model.n_mels

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Library libcublas.so.12 is not found or cannot be loaded")


def test_a_batched_encoder_output_splits_into_each_clips_own_rows() -> None:
    """The GPU's path (one encode for a group): each clip's transcribe() gets exactly its rows."""
    import ctranslate2

    from handlers.whisper.first_window import _Encoded

    rows = np.arange(3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2)
    encoded = _Encoded(ctranslate2.StorageView.from_array(rows), None)
    for i in (2, 0, 1):
        assert np.array_equal(np.asarray(encoded.clip(i)), rows[i : i + 1])


def test_a_segment_timed_past_the_audio_never_reaches_the_answer(
    handler: tuple[WhisperHandler, Context], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault CI once met (a sampled last window writing speech after the audio's end), injected
    after the real decoding: the answer keeps the real segments, drops the invented one, says so."""
    import dataclasses

    service, ctx = handler
    model = service.asr.model
    real = model.transcribe

    def with_invented_tail(audio: Any, **kwargs: Any) -> Any:
        segments, info = real(audio, **kwargs)
        heard = list(segments)
        end = len(audio) / 16000
        invented = dataclasses.replace(heard[-1], id=heard[-1].id + 1, start=end - 0.1, end=end + 8, text=" never said")
        return iter([*heard, invented]), info

    monkeypatch.setattr(model, "transcribe", with_invented_tail)
    jfk = bytearray((data_dir / "openai__whisper" / "jfk.flac").read_bytes())
    [result] = service.handle([{"body": jfk, "params": {"language": "en"}}], ctx)
    assert "never said" not in result["text"] and "ask what you can do" in result["text"].lower()
    assert result["warnings"] == ["dropped 1 segment(s) timed past the end of the audio"]
    assert all(s["end"] <= result["duration"] for s in result["segments"])
