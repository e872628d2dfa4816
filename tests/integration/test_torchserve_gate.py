"""TorchServe behind ts_gate, as deployments run it: a bearer token, and only the calls the gateway makes."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.paths import model_config
from scripts.stack import ROOT, TorchServe, free_port, gateway, ts_gate
from tests.gateway.app_client import app_client

TOKEN = secrets.token_hex(24)
WHISPER_WORKERS = model_config("whisper")["minWorkers"]


@pytest.fixture(scope="module")
def gate(ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ts_gate(ts_server, tmp_path_factory.mktemp("gate"), TOKEN) as url:
        yield url


def test_a_gateway_with_the_token_works_through_the_gate(
    gate: str, ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory, jfk: Path
) -> None:
    env = {"TORCHSERVE_URL": gate, "TORCHSERVE_MANAGEMENT_URL": gate, "TORCHSERVE_TOKEN": TOKEN}
    with gateway(ts_server, tmp_path_factory.mktemp("gated-gw"), env=env) as gw:  # ready: every model seen
        ready = httpx.get(f"{gw.url}/ready").json()
        r = httpx.post(
            f"{gw.url}/audio/transcribe", params={"language": "en"}, files={"file": jfk.read_bytes()}, timeout=120
        )
    assert ready["status"] == "ready" and all(ready["models"].values())
    assert r.status_code == 200 and "country" in r.json()["text"].lower()


def test_without_the_token_nothing_gets_through(gate: str, jfk: Path) -> None:
    good, wrong = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Bearer {TOKEN[:-1]}x"}
    for headers in ({}, wrong, {"Authorization": TOKEN}):
        r = httpx.post(f"{gate}/predictions/whisper", content=b"x", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{gate}/models", headers=headers).status_code == 401
    assert httpx.get(f"{gate}/models", headers=good).status_code == 200
    assert httpx.get(f"{gate}/ping").status_code == 200  # probes carry no secret; it says only up or down


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/models/whisper?min_worker=4"),  # scale
        ("DELETE", "/models/whisper"),  # unregister
        ("POST", "/models?url=https://example.org/evil.mar"),  # register (code execution)
        ("POST", "/token?type=management"),
        ("GET", "/api-description"),
        ("GET", "/metrics"),
    ],
)
def test_management_writes_are_not_served_even_with_the_token(
    gate: str, ts_server: TorchServe, method: str, path: str
) -> None:
    r = httpx.request(method, f"{gate}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 404
    whisper = httpx.get(f"{ts_server.management_url}/models/whisper").json()[0]
    assert whisper["minWorkers"] == WHISPER_WORKERS and whisper["workers"]  # untouched


def test_a_gateway_with_a_wrong_token_is_not_ready_and_says_so(gate: str, tmp_path: Path, jfk: Path) -> None:
    wrong = secrets.token_hex(24)
    with app_client(
        tmp_path / "files", TORCHSERVE_URL=gate, TORCHSERVE_MANAGEMENT_URL=gate, TORCHSERVE_TOKEN=wrong
    ) as client:
        ready = client.get("/ready")
        r = client.post("/audio/transcribe", params={"language": "en"}, files={"file": jfk.read_bytes()})
    assert ready.status_code == 503 and not any(ready.json()["models"].values())
    assert r.status_code == 503 and r.json() == {"detail": "model server refused this gateway"}


@pytest.mark.parametrize("token", ["", "short", "change-me-" + "x" * 30])
def test_the_gate_refuses_to_start_with_a_weak_or_placeholder_token(token: str) -> None:
    env = {**os.environ, "TS_GATE_TOKEN": token, "TS_GATE_HOST": "127.0.0.1", "TS_GATE_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-m", "ts_gate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0 and "TS_GATE_TOKEN" in done.stderr
    assert token == "" or token not in done.stderr  # never echoed
