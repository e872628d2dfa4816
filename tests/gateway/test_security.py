"""API keys, per-key limits, request ids and /metrics (TorchServe is not needed for any of it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.gateway.app_client import app_client

KEY = "s3cret-key"


def test_keys_off_by_default(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        assert client.get("/files/download/x.wav").status_code == 404


def test_every_route_but_health_and_ready_needs_a_key(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS=f"other,{KEY}") as client:
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 503  # not 401: TorchServe is down here
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": ""}, {"Authorization": KEY}):
            r = client.get("/files/download/x.wav", headers=headers)
            assert r.status_code == 401 and r.json() == {"detail": "missing or invalid API key"}
            assert r.headers["www-authenticate"] == "Bearer"
        assert client.post("/files/upload", files={"file": ("a.wav", b"x")}).status_code == 401
        assert client.get("/metrics").status_code == 401
        assert client.get("/files/download/x.wav", headers={"Authorization": f"Bearer {KEY}"}).status_code == 404
        assert client.get("/files/download/x.wav", headers={"X-API-Key": "other"}).status_code == 404
    assert not any(tmp_path.iterdir())  # the refused upload stored nothing


def test_rate_limit_per_key_answers_429_with_retry_after(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS=f"{KEY},b", RATE_LIMIT_PER_MIN=2) as client:
        ok = [client.get("/files/download/x.wav", headers={"X-API-Key": KEY}).status_code for _ in range(2)]
        r = client.get("/files/download/x.wav", headers={"X-API-Key": KEY})
        assert ok == [404, 404] and r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert client.get("/files/download/x.wav", headers={"X-API-Key": "b"}).status_code == 404  # per key


def test_websocket_needs_a_key_and_is_closed_with_policy_violation(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS=KEY) as client:
        with client.websocket_connect("/ws/asr") as ws:
            assert ws.receive_json() == {"type": "error", "detail": "missing or invalid API key"}
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008
        for url, headers in (("/ws/asr?language=en", {"X-API-Key": KEY}), (f"/ws/asr?language=en&api_key={KEY}", {})):
            with client.websocket_connect(url, headers=headers) as ws:
                assert ws.receive_json()["type"] == "ready"
                ws.send_json({"event": "stop"})
                assert ws.receive_json() == {"type": "final", "text": "", "audio_sec": 0.0}


def test_streams_per_key_are_limited(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS=KEY, STREAM_MAX_PER_KEY=1) as client:
        headers = {"X-API-Key": KEY}
        with client.websocket_connect("/ws/asr", headers=headers) as first:
            assert first.receive_json()["type"] == "ready"
            with client.websocket_connect("/ws/asr", headers=headers) as second:
                message = second.receive_json()
                assert message["type"] == "error" and "open streams" in message["detail"]
                with pytest.raises(WebSocketDisconnect) as closed:
                    second.receive_json()
                assert closed.value.code == 1013
            first.send_json({"event": "stop"})
            assert first.receive_json()["type"] == "final"
        with client.websocket_connect("/ws/asr", headers=headers) as again:  # the slot was given back
            assert again.receive_json()["type"] == "ready"
            again.send_json({"event": "stop"})
            again.receive_json()


def test_request_ids_and_metrics(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.get("/files/download/x.wav", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        generated = client.get("/health").headers["x-request-id"]
        assert len(generated) == 32 and generated != client.get("/health").headers["x-request-id"]
        assert client.get("/health", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"
        text = client.get("/metrics").text
    assert 'audiocore_http_requests_total{method="GET",route="/files/download/{filename}",status="404"}' in text
    assert "audiocore_ws_active_streams" in text and "audiocore_model_request_duration_seconds" in text
