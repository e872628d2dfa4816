"""Tenants and voices on the real stack: keys of two tenants, enrolled voices that the other tenant cannot
see or touch, enrollment that refuses another voice (poisoning), and clients too slow to be served."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.stack import Gateway, TorchServe, gateway

LIBRI = "resemble-ai__Resemblyzer/librispeech_test-other"
TIMEOUT = httpx.Timeout(300.0)
ACME, GLOBEX = {"X-API-Key": "acme-key-0123456789"}, {"X-API-Key": "globex-key-0123456789"}


@pytest.fixture(scope="module")
def keyed(ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {
        "API_KEYS": "acme:acme-key-0123456789,globex:globex-key-0123456789",
        "HEADER_TIMEOUT_SEC": "1",
        "BODY_READ_TIMEOUT_SEC": "1",
    }
    with gateway(ts_server, tmp_path_factory.mktemp("tenants"), env=env) as gw:
        yield gw


def _clips(data_dir: Path, speaker: str) -> list[Path]:
    return sorted((data_dir / LIBRI / speaker).glob("*.flac"))


def _enroll(client: httpx.Client, headers: dict[str, str], speaker: str, clip: Path, **params: str) -> httpx.Response:
    return client.post(
        "/speaker/enroll",
        data={"speaker_id": speaker},
        params=params,
        files={"file": (clip.name, clip.read_bytes())},
        headers=headers,
        timeout=TIMEOUT,
    )


def _verify(client: httpx.Client, headers: dict[str, str], speaker: str, clip: Path) -> httpx.Response:
    return client.post(
        "/speaker/verify",
        data={"speaker_id": speaker},
        files={"probe": (clip.name, clip.read_bytes())},
        headers=headers,
        timeout=TIMEOUT,
    )


def _samples(client: httpx.Client, headers: dict[str, str]) -> dict[str, int]:
    return {s["speaker_id"]: s["samples"] for s in client.get("/speaker/speakers", headers=headers).json()["speakers"]}


def test_another_tenants_voice_is_404_and_untouchable(keyed: Gateway, data_dir: Path) -> None:
    victim = _clips(data_dir, "1688")
    with httpx.Client(base_url=keyed.url) as client:
        for clip in victim[:2]:
            assert _enroll(client, ACME, "boss", clip).status_code == 200
        assert _verify(client, GLOBEX, "boss", victim[3]).status_code == 404
        assert "boss" not in _samples(client, GLOBEX)
        assert client.delete("/speaker/speakers/boss", headers=GLOBEX).status_code == 404
        # globex's own "boss" is another speaker altogether
        assert _enroll(client, GLOBEX, "boss", _clips(data_dir, "2609")[0]).json()["samples"] == 1
        assert _samples(client, ACME)["boss"] == 2
        assert _verify(client, ACME, "boss", victim[3]).json()["decision"] is True


def test_enrolling_another_voice_is_refused_unless_replace(keyed: Gateway, data_dir: Path) -> None:
    victim, attacker = _clips(data_dir, "1688"), _clips(data_dir, "2609")
    with httpx.Client(base_url=keyed.url) as client:
        for clip in victim[:2]:
            assert _enroll(client, ACME, "victim", clip).status_code == 200
        before = _verify(client, ACME, "victim", attacker[9]).json()["score"]
        for clip in attacker[:8]:  # the attack that worked before: 8 of one's own clips under the victim's id
            r = _enroll(client, ACME, "victim", clip)
            assert r.status_code == 409, r.text
            assert r.json()["score"] < r.json()["threshold"] and "replace=true" in r.json()["detail"]
        assert _samples(client, ACME)["victim"] == 2
        after = _verify(client, ACME, "victim", attacker[9]).json()
        assert after["decision"] is False and after["score"] == pytest.approx(before, abs=1e-4)
        assert _enroll(client, ACME, "victim", victim[2]).json()["samples"] == 3  # the victim's own voice is welcome
        # replace=true starts the speaker over, deliberately
        assert _enroll(client, ACME, "victim", attacker[0], replace="true").json()["samples"] == 1
        assert _verify(client, ACME, "victim", attacker[9]).json()["decision"] is True


def test_half_a_header_or_a_stalled_body_does_not_hold_a_connection(keyed: Gateway) -> None:
    host, port = keyed.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 5
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            "POST /files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: acme-key-0123456789\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n"
        )
        sock.sendall(head.encode() + b"--b\r\nContent-Disposition: form-data; name=")
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
