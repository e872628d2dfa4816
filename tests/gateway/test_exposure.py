"""Whose data is it, and who may reach it: tenants for files, Host and Origin checks, start-up refusals,
failed-authentication limits, quotas and retention, probes, and one log line per unhandled error."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from gateway.__main__ import exposure_problem
from gateway.app.main import create_app
from gateway.core.config import Settings
from scripts.paths import ROOT
from tests.gateway.app_client import TEST_HOSTS, app_client

A, B = "acme:key-of-acme-1", "globex:key-of-globex-1"
AS_A, AS_B = {"X-API-Key": "key-of-acme-1"}, {"X-API-Key": "key-of-globex-1"}


def test_another_tenants_file_is_404_as_if_absent(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS=f"{A},{B}") as client:
        r = client.post("/files/upload", files={"file": ("x.wav", b"acme's bytes")}, headers=AS_A)
        assert r.status_code == 200 and r.json()["filename"] == "x.wav"
        missing = client.get("/files/download/nope.wav", headers=AS_B)
        theirs = client.get("/files/download/x.wav", headers=AS_B)
        assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
        assert client.delete("/files/x.wav", headers=AS_B).status_code == 404
        r = client.post("/audio/transcribe", params={"filename": "x.wav"}, headers=AS_B)
        assert r.status_code == 404
        # the same name in another tenant is another file
        assert (
            client.post("/files/upload", files={"file": ("x.wav", b"globex")}, headers=AS_B).json()["filename"]
            == "x.wav"
        )
        assert client.get("/files/download/x.wav", headers=AS_A).content == b"acme's bytes"
        assert client.get("/files/download/x.wav", headers=AS_B).content == b"globex"
        assert client.delete("/files/x.wav", headers=AS_A).status_code == 200
        assert client.get("/files/download/x.wav", headers=AS_A).status_code == 404
        assert client.get("/files/download/x.wav", headers=AS_B).content == b"globex"


def test_a_bare_key_is_the_default_tenant_as_before(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS="plain-old-key,another-plain-key") as client:
        client.post("/files/upload", files={"file": ("a.wav", b"x")}, headers={"X-API-Key": "plain-old-key"})
        assert client.get("/files/download/a.wav", headers={"X-API-Key": "another-plain-key"}).content == b"x"
    assert (tmp_path / "a.wav").is_file()  # the default tenant keeps the store's root, as before tenants


def test_taken_names_get_a_short_random_suffix(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        names = {client.post("/files/upload", files={"file": ("a.wav", b"x")}).json()["filename"] for _ in range(20)}
    assert len(names) == 20 and "a.wav" in names
    assert all(
        n == "a.wav" or (n.startswith("a_") and n.endswith(".wav") and len(n) == len("a_123456.wav")) for n in names
    )


def test_quota_per_tenant_is_507_and_delete_frees_it(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS=f"{A},{B}", FILES_QUOTA_BYTES=1000) as client:
        assert client.post("/files/upload", files={"file": ("a.bin", b"x" * 600)}, headers=AS_A).status_code == 200
        r = client.post("/files/upload", files={"file": ("b.bin", b"x" * 600)}, headers=AS_A)
        assert r.status_code == 507 and "quota" in r.json()["detail"]
        assert client.post("/files/upload", files={"file": ("b.bin", b"x" * 600)}, headers=AS_B).status_code == 200
        assert client.delete("/files/a.bin", headers=AS_A).status_code == 200
        assert client.post("/files/upload", files={"file": ("b.bin", b"x" * 600)}, headers=AS_A).status_code == 200


def test_files_expire_after_the_ttl(tmp_path: Path) -> None:
    with app_client(tmp_path, FILES_TTL_SEC=1) as client:
        client.post("/files/upload", files={"file": ("old.wav", b"x")})
        assert client.get("/files/download/old.wav").status_code == 200
        deadline = time.monotonic() + 10
        while client.get("/files/download/old.wav").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.get("/files/download/old.wav").status_code == 404


def test_foreign_hosts_and_origins_are_refused(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        rebinding = client.get("/speaker/speakers", headers={"Host": "attacker.example"})
        assert rebinding.status_code == 400 and "Host" in rebinding.json()["detail"]
        assert client.get("/health", headers={"Host": "10.1.2.3:8000"}).status_code == 200  # probes pass
        assert client.get("/speaker/speakers", headers={"Host": "localhost:8000"}).status_code == 200
        page = client.post("/files/upload", files={"file": ("a.wav", b"x")}, headers={"Origin": "https://evil.example"})
        assert page.status_code == 403
        same = client.get("/speaker/speakers", headers={"Origin": "http://testserver"})
        assert same.status_code == 200
        with client.websocket_connect("/ws/asr", headers={"Origin": "https://evil.example"}) as ws:
            assert "cross-origin" in ws.receive_json()["detail"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008
        with client.websocket_connect("/ws/asr", headers={"Origin": "http://testserver"}) as ws:
            assert ws.receive_json()["type"] == "ready"
    with app_client(tmp_path, ALLOWED_ORIGINS="https://app.example.com") as client:
        ok = client.get("/speaker/speakers", headers={"Origin": "https://app.example.com"})
        assert ok.status_code == 200


def test_start_up_refuses_exposure_without_keys_and_placeholder_keys() -> None:
    assert "refusing to listen on 0.0.0.0" in (exposure_problem(Settings(HOST="0.0.0.0")) or "")
    assert exposure_problem(Settings(HOST="127.0.0.1")) is None
    assert exposure_problem(Settings(HOST="0.0.0.0", API_KEYS="t:real-key-123")) is None
    assert exposure_problem(Settings(HOST="0.0.0.0", ALLOW_ANONYMOUS=True)) is None
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(API_KEYS="acme:change-me-key-1")
    env = {k: v for k, v in os.environ.items() if k not in ("API_KEYS", "ALLOW_ANONYMOUS")}
    run = subprocess.run(
        [sys.executable, "-m", "gateway"],
        cwd=ROOT,
        env={**env, "HOST": "0.0.0.0", "PORT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "refusing to listen" in run.stderr


def test_failed_authentication_is_rate_limited_per_address(tmp_path: Path) -> None:
    with app_client(tmp_path, API_KEYS=A, AUTH_FAILURES_PER_MIN=5) as client:
        codes = [client.get("/speaker/speakers", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(8)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
        r = client.get("/speaker/speakers", headers=AS_A)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # guessing stops for the address


def test_limits_apply_per_address_without_keys_and_an_empty_header_is_no_key(tmp_path: Path) -> None:
    with app_client(tmp_path, RATE_LIMIT_PER_MIN=3) as client:
        assert [client.get("/speaker/speakers").status_code for _ in range(4)] == [200, 200, 200, 429]
    with app_client(tmp_path, API_KEYS=A) as client:
        r = client.get("/speaker/speakers", headers={"X-API-Key": "", "Authorization": "Bearer key-of-acme-1"})
        assert r.status_code == 200


def test_probes_answer_head_and_downloads_are_nosniff(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        assert client.head("/health").status_code == 200
        client.post("/files/upload", files={"file": ("page.html", b"<script>alert(1)</script>")})
        head = client.head("/files/download/page.html")
        get = client.get("/files/download/page.html")
        assert head.status_code == get.status_code == 200 and head.content == b""
        assert get.headers["x-content-type-options"] == "nosniff"


def test_an_unhandled_error_is_one_500_logged_once_with_its_request_id(
    tmp_path: Path, jfk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug, not a network error")

    settings = Settings(
        STORAGE_DIR=tmp_path / "f", DATABASE_URL=f"sqlite:///{tmp_path / 's.db'}", ALLOWED_HOSTS=TEST_HOSTS
    )
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, transport=httpx.MockTransport(broken)), raise_server_exceptions=False) as c:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            clip = jfk.read_bytes()
            r = c.post(
                "/speaker/verify",
                files={"probe": ("a.flac", clip), "reference": ("b.flac", clip)},
                headers={"X-Request-ID": "req-43"},
            )
    assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
    assert r.headers["x-request-id"] == "req-43"
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and "unhandled error" in errors[0].getMessage()
