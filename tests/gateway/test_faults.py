"""Bad input and a broken model server: clear 4xx/5xx with a detail, nothing stored.

TorchServe is replaced here only to inject faults: a closed port (down) and a
socket that accepts but never answers (too slow).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.app_client import app_client, stored_files


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and reads requests, but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(sock.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in conns:
        conn.close()
    sock.close()


def test_torchserve_down_is_503(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.post("/audio/transcribe", files={"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")})
        assert r.status_code == 503 and "not reachable" in r.json()["detail"]
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["torchserve"] is False
        assert client.get("/health").json() == {"status": "ok"}  # liveness does not follow TorchServe
    assert stored_files(tmp_path) == []


def test_torchserve_too_slow_is_504(tmp_path: Path, jfk: Path, silent_server: str) -> None:
    with app_client(tmp_path, TORCHSERVE_URL=silent_server, TORCHSERVE_TIMEOUT_SEC=0.5) as client:
        r = client.post("/audio/transcribe", files={"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")})
    assert r.status_code == 504 and "in time" in r.json()["detail"]


@pytest.mark.parametrize(
    ("files", "params", "status", "detail"),
    [
        ({"file": ("e.wav", b"", "audio/wav")}, {}, 400, "empty"),
        ({"file": ("x.wav", b"definitely not audio", "audio/wav")}, {}, 400, "undecodable"),
        (
            {
                "file": (
                    "p.txt",
                    Path("/etc/hostname").read_bytes() if Path("/etc/hostname").exists() else b"host",
                    "text/plain",
                )
            },
            {},
            400,
            "undecodable",
        ),
        (None, {}, 400, "file"),
        (None, {"filename": "missing.wav"}, 404, "File not found"),
        (None, {"filename": "../../etc/passwd"}, 404, "File not found"),
        ("JFK", {"language": "xx"}, 400, "unsupported language"),
        ("JFK", {"language": "english"}, 400, "unsupported language"),
        ("JFK", {"beam_size": "0"}, 422, None),
        ("JFK", {"task": "summarize"}, 422, None),
    ],
)
def test_bad_input_is_rejected_before_the_model(tmp_path: Path, jfk: Path, files, params, status, detail) -> None:  # type: ignore[no-untyped-def]
    if files == "JFK":
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
    with app_client(tmp_path) as client:  # TorchServe is down: reaching it would be 503
        r = client.post("/audio/transcribe", params=params, files=files or {})
    assert r.status_code == status, r.text
    if detail:
        assert detail in r.json()["detail"]
    assert stored_files(tmp_path) == []


def test_audio_over_duration_limit_is_413(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path, MAX_AUDIO_SEC=5) as client:
        r = client.post("/audio/transcribe", files={"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")})
    assert r.status_code == 413 and "longer than 5 s" in r.json()["detail"]


def test_enhance_over_its_duration_limit_is_413(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path, ENHANCE_MAX_SEC=5) as client:
        r = client.post("/audio/enhance", files={"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")})
    assert r.status_code == 413 and "longer than 5 s" in r.json()["detail"]
    assert stored_files(tmp_path) == []


def test_speaker_routes_validate_before_the_model(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path) as client:
        assert client.post("/speaker/verify", files={}).status_code == 422
        r = client.post("/speaker/verify", files={"probe": ("p.flac", jfk.read_bytes())}, data={"speaker_id": "a/b"})
        assert r.status_code == 400 and "speaker_id" in r.json()["detail"]
        r = client.post("/speaker/verify", files={"probe": ("p.flac", jfk.read_bytes())}, data={"speaker_id": "ghost"})
        assert r.status_code == 404 and "not enrolled" in r.json()["detail"]  # the store answers before TorchServe
        assert client.delete("/speaker/speakers/ghost").status_code == 404
        assert client.get("/speaker/speakers").json() == {"speakers": []}
        r = client.post("/speaker/train/microphone")
        assert r.status_code == 403 and "MIC_TRAINING_ENABLED" in r.json()["detail"]


def test_openai_route_validates_too(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.post(
            "/v1/audio/transcriptions",
            data={"response_format": "xml"},
            files={"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")},
        )
        assert r.status_code == 422
        r = client.post(
            "/v1/audio/transcriptions",
            data={"language": "zz"},
            files={"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")},
        )
        assert r.status_code == 400
        r = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"})
        assert r.status_code == 422


def test_microphone_without_a_usable_device_is_503(tmp_path: Path) -> None:
    """Real PortAudio, asked for an input device that does not exist."""
    with app_client(tmp_path, MIC_TRAINING_ENABLED=True, MIC_DEVICE="no-such-capture-device") as client:
        r = client.post("/speaker/train/microphone", params={"seconds": 1})
        assert r.status_code == 503 and "audio input" in r.json()["detail"]
        r = client.post("/speaker/train/microphone", params={"seconds": 9999})
        assert r.status_code == 400 and "at most" in r.json()["detail"]
        assert client.get("/speaker/speakers").json() == {"speakers": []}
