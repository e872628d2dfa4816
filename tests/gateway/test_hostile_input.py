"""Hostile input refused before any model work (TorchServe is a closed port here: reaching it would be 503).

Each case was an attack that worked before: playlists and concat scripts that read other files through
FFmpeg, decode bombs, NaN samples, headers and names that made 500s, and stream abuse.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from tests.audio_files import float_wav, pcm16_wav, silent_flac, unknown_codec_wav
from tests.gateway.app_client import app_client, stored_files


def _upload(client, name: str, data: bytes) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/files/upload", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == 200, r.text
    return str(r.json()["filename"])


def test_a_playlist_cannot_read_a_server_file(tmp_path: Path, jfk: Path) -> None:
    secret = tmp_path / "outside" / "secret.flac"
    secret.parent.mkdir()
    shutil.copy(jfk, secret)
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:11\n#EXTINF:11.0,\nfile://{secret}\n#EXT-X-ENDLIST\n".encode()
    store = tmp_path / "store"
    with app_client(store) as client:
        name = _upload(client, "x.m3u8", playlist)
        for route in ("/audio/transcribe", "/audio/enhance"):
            r = client.post(route, params={"filename": name})
            # 400 before the model: a decoded secret would have gone on to the (dead) model server as 503
            assert r.status_code == 400, (route, r.text)
    assert stored_files(store) == [name]  # no x_enhanced.wav holding the secret's audio


def test_a_concat_script_cannot_read_another_upload(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path) as client:
        victim = _upload(client, "victim.flac", jfk.read_bytes())
        script = _upload(client, "notes.wav", f"ffconcat version 1.0\nfile {victim}\n".encode())
        r = client.post("/audio/transcribe", params={"filename": script})
        assert r.status_code == 400 and "unsupported container" in r.json()["detail"]
        r = client.post("/audio/transcribe", files={"file": ("x.wav", f"ffconcat version 1.0\nfile {victim}\n")})
        assert r.status_code == 400


def _half(data: bytes) -> bytes:
    """The first half of a file: FFmpeg reports such a WAV as half as long, and it went on to the model."""
    return data[: len(data) // 2]


def _nan_wav() -> bytes:
    samples = np.random.default_rng(0).uniform(-0.1, 0.1, 16000).astype(np.float32)
    samples[4000] = np.nan
    return float_wav(samples)


@pytest.mark.parametrize(
    ("make", "detail"),
    [
        # 7 KB declaring 1 Hz: 3 500 s of "audio" (it cost +527 MiB and 12 min of model time)
        (lambda: pcm16_wav(1, np.random.default_rng(0).integers(-3000, 3000, 3500)), "sample rate 1 Hz"),
        (lambda: silent_flac(3600), "decompression bomb"),  # 654 KB declaring an hour
        (_nan_wav, "NaN"),
        (unknown_codec_wav, "unsupported audio codec"),  # found by mutating headers: it was a 500
        (lambda: _half(pcm16_wav(16000, np.random.default_rng(0).integers(-3000, 3000, 4 * 16000))), "damaged or cut"),
    ],
)
def test_bombs_and_poisoned_samples_are_a_fast_400(tmp_path: Path, make, detail: str) -> None:  # type: ignore[no-untyped-def]
    data = make()
    with app_client(tmp_path) as client:
        started = time.perf_counter()
        r = client.post("/audio/transcribe", files={"file": ("bomb.wav", data, "audio/wav")})
        elapsed = time.perf_counter() - started
    assert r.status_code == 400 and detail in r.json()["detail"], r.text
    assert elapsed < 2.0


def test_non_ascii_request_id_is_replaced_not_a_500(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.post(
            "/audio/transcribe",
            files={"file": ("jfk.flac", jfk.read_bytes())},
            headers={"X-Request-ID": "café".encode()},
        )
        assert r.status_code == 503  # reached the (dead) model server: the id did not break the call
        assert r.headers["x-request-id"].isascii() and r.headers["x-request-id"] != "café"
        r = client.get("/health", headers={"X-Request-ID": "abc\n"})
        assert r.headers["x-request-id"] != "abc\n"


def test_long_unicode_names_are_cut_by_bytes(tmp_path: Path) -> None:
    name = "語" * 90 + ".wav"  # 270 bytes of UTF-8: over every file system's 255
    with app_client(tmp_path) as client:
        stored = _upload(client, name, b"RIFF not really")
        assert len(stored.encode()) <= 255 and stored.endswith(".wav")
        assert client.get(f"/files/download/{stored}").content == b"RIFF not really"
        assert client.get(f"/files/download/{name}").status_code == 404
        r = client.post("/audio/transcribe", params={"filename": name})
        assert r.status_code == 404


def test_a_huge_parameter_is_not_echoed_back(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.post(
            "/audio/transcribe", params={"language": "x" * 30_000}, files={"file": ("j.flac", jfk.read_bytes())}
        )
    assert r.status_code == 400 and len(r.json()["detail"]) < 300


@pytest.mark.parametrize("rate", ["²", "9" * 5000, "16000.0", "-16000"])
def test_odd_sample_rates_close_1003(tmp_path: Path, rate: str) -> None:
    with app_client(tmp_path) as client, client.websocket_connect(f"/ws/asr?sample_rate={rate}") as ws:
        assert "sample rate" in ws.receive_json()["detail"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1003


def test_deep_json_is_an_error_message_and_the_stream_goes_on(tmp_path: Path) -> None:
    with app_client(tmp_path) as client, client.websocket_connect("/ws/asr?language=en") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_text("[" * 200_000)
        assert "JSON" in ws.receive_json()["detail"]
        ws.send_json({"event": "stop"})
        assert ws.receive_json()["type"] == "final"


def test_a_trickling_stream_is_closed(tmp_path: Path) -> None:
    with (
        app_client(tmp_path, STREAM_IDLE_TIMEOUT_SEC=1.0) as client,
        client.websocket_connect("/ws/asr?language=en") as ws,
    ):
        assert ws.receive_json()["type"] == "ready"
        for _ in range(10):  # 2 bytes every 0.2 s: frames keep coming, audio does not
            ws.send_bytes(b"\x00\x00")
            time.sleep(0.2)
        assert "too little" in ws.receive_json()["detail"]  # not the idle timeout after the last frame
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


def test_streams_per_client_address_are_limited(tmp_path: Path) -> None:
    with app_client(tmp_path, STREAM_MAX_PER_ADDRESS=2) as client:
        with client.websocket_connect("/ws/asr") as a, client.websocket_connect("/ws/asr") as b:
            assert a.receive_json()["type"] == b.receive_json()["type"] == "ready"
            with client.websocket_connect("/ws/asr") as c:
                assert "client address" in c.receive_json()["detail"]
                with pytest.raises(WebSocketDisconnect) as closed:
                    c.receive_json()
                assert closed.value.code == 1013
        with client.websocket_connect("/ws/asr") as again:  # slots come back when streams close
            assert again.receive_json()["type"] == "ready"
