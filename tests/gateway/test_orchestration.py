"""How the gateway drives the models, on a fake TorchServe (tests/gateway/fake_torchserve.py): fan-out of
file pieces, enhance-then-transcribe, and the order of a stream's partials, final and close.
The models themselves are tested for real in tests/integration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.app.main import create_app
from gateway.core.config import Settings
from gateway.core.pieces import split_at_quiet
from tests.gateway.app_client import TEST_HOSTS
from tests.gateway.fake_torchserve import FakeTorchServe
from wire.pcm import to_pcm16, to_wav

SR = 16000


def _client(tmp_path: Path, fake: FakeTorchServe, **overrides: object) -> TestClient:
    settings = Settings(
        STORAGE_DIR=tmp_path / "files",
        DATABASE_URL=f"sqlite:///{tmp_path / 'speakers.db'}",
        ALLOWED_HOSTS=TEST_HOSTS,
        **overrides,
    )
    return TestClient(create_app(settings, transport=fake.transport()), raise_server_exceptions=False)


def _speech(seconds: float) -> np.ndarray:
    """Tones with a quiet gap every 10 s, so pieces are cut in the gaps and none is 'silent'."""
    t = np.arange(int(seconds * SR)) / SR
    audio = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    audio[(t % 10) > 9.8] = 0.0001
    return audio


def test_pieces_go_out_together_when_the_language_is_given(tmp_path: Path) -> None:
    fake = FakeTorchServe(delay_sec=0.2)
    audio = _speech(60)
    pieces = len(split_at_quiet(audio, SR, 10))
    with _client(tmp_path, fake, ASR_MAX_PARALLEL_PIECES=4, ASR_PIECE_SEC=10) as client:
        r = client.post("/audio/transcribe", params={"language": "en"}, files={"file": ("a.wav", to_wav(audio, SR))})
    assert r.status_code == 200, r.text
    assert pieces >= 6 and len(fake.calls) == pieces and fake.most_in_flight == 4
    assert r.json()["text"].count("piece") == pieces and r.json()["raw"]["segments"][-1]["start"] > 45


def test_language_detection_sends_the_first_piece_alone(tmp_path: Path) -> None:
    fake = FakeTorchServe(delay_sec=0.2)
    with _client(tmp_path, fake, ASR_MAX_PARALLEL_PIECES=4, ASR_PIECE_SEC=10) as client:
        r = client.post(
            "/audio/transcribe", params={"language": "auto"}, files={"file": ("a.wav", to_wav(_speech(40), SR))}
        )
    assert r.status_code == 200, r.text
    first, *rest = sorted(fake.calls, key=lambda c: c.started)
    assert "language" not in first.params
    assert all(c.started >= first.ended for c in rest)  # nobody else went before the language was known
    assert all(c.params["language"] == "en" for c in rest)


def test_enhance_runs_before_recognition_on_each_piece(tmp_path: Path) -> None:
    fake = FakeTorchServe()
    audio = _speech(25)
    with _client(tmp_path, fake, ASR_PIECE_SEC=10) as client:
        r = client.post(
            "/audio/transcribe",
            params={"language": "en", "enhance": "true"},
            files={"file": ("a.wav", to_wav(audio, SR))},
        )
    assert r.status_code == 200, r.text
    enhanced = [c for c in fake.calls if c.model == "enhancer"]
    heard = [c for c in fake.calls if c.model == "whisper"]
    assert len(enhanced) == len(heard) == 3
    for piece in heard:  # whisper heard the enhancer's answer (the piece halved), after it was made
        source = min(enhanced, key=lambda c: abs(len(c.audio) - len(piece.audio)))
        assert source.ended <= piece.started
        np.testing.assert_allclose(piece.audio, source.audio * 0.5, atol=2 / 32768)


def test_a_stream_sends_partials_then_final_then_closes(tmp_path: Path) -> None:
    fake = FakeTorchServe()
    with _client(tmp_path, fake) as client, client.websocket_connect("/ws/asr?language=en") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(to_pcm16(_speech(2)))
        ws.send_json({"event": "flush"})
        first = ws.receive_json()
        assert first["type"] == "partial" and first["audio_sec"] == pytest.approx(2.0)
        ws.send_json({"event": "stop"})
        messages = []
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                messages.append(ws.receive_json())
        assert [m["type"] for m in messages][-1] == "final"
        assert all(m["type"] == "partial" for m in messages[:-1])
        assert closed.value.code == 1000 and messages[-1]["audio_sec"] == pytest.approx(2.0)
    assert all(c.params["fit_window"] and c.params["max_new_tokens"] <= 220 for c in fake.calls)
    # partials leave a short tail to the next update; the final decode takes everything
    *partials, final = fake.calls
    assert partials and all(c.params["skip_tail_sec"] == 2.0 for c in partials)
    assert "skip_tail_sec" not in final.params
