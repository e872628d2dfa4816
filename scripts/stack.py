"""Start a private TorchServe + gateway pair on free loopback ports.

Used by the integration tests and the benchmarks so both run against the real
stack without touching a `make up` instance: each stack has its own config,
ports, temp dir (TorchServe keeps its pid file and worker sockets there), logs
and file store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from scripts.paths import ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_names() -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT / "model-store" / "build.py"), "--list"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@dataclass
class TorchServe:
    inference_url: str
    management_url: str
    workdir: Path
    process: subprocess.Popen[bytes]


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    storage_dir: Path


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait(what: str, process: subprocess.Popen[bytes], timeout: float, probe: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            if probe():
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def _properties(path: Path) -> dict[str, str]:
    """key=value lines of a Java properties file (no continuations: ours has none)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@contextmanager
def torchserve(
    workdir: Path,
    extra_config: dict[str, str] | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> Iterator[TorchServe]:
    """A TorchServe serving every model in model-store/, ready when this yields (``env``: e.g. WHISPER_ENGINE)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("inference", "management", "metrics", "grpc_inference", "grpc_management")}
    # the one template (model-store/config.properties), with this stack's own ports and paths
    config = {
        **_properties(ROOT / "model-store" / "config.properties"),
        "inference_address": f"http://127.0.0.1:{ports['inference']}",
        "management_address": f"http://127.0.0.1:{ports['management']}",
        "metrics_address": f"http://127.0.0.1:{ports['metrics']}",
        # TorchServe always opens its gRPC ports too; move them off the defaults.
        "grpc_inference_port": str(ports["grpc_inference"]),
        "grpc_management_port": str(ports["grpc_management"]),
        "model_store": str(ROOT / "model-store"),
        **(extra_config or {}),
    }
    (workdir / "config.properties").write_text("".join(f"{k}={v}\n" for k, v in config.items()))
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    full_env = {
        # idle OpenMP threads sleep instead of spinning: two whisper workers share the cores (as serve.sh)
        "OMP_WAIT_POLICY": "PASSIVE",
        **os.environ,
        **(env or {}),
        "TMPDIR": str(tmp),
        "TEMP": str(tmp),
        "LOG_LOCATION": str(workdir / "logs"),
        "METRICS_LOCATION": str(workdir / "logs"),
    }
    log = (workdir / "torchserve.out").open("wb")
    process = subprocess.Popen(
        [
            str(BIN / "torchserve"),
            "--start",
            "--ncs",
            "--foreground",
            "--disable-token-auth",
            "--model-store",
            str(ROOT / "model-store"),
            "--ts-config",
            str(workdir / "config.properties"),
            "--models",
            model_names(),
        ],
        cwd=workdir,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = TorchServe(config["inference_address"], config["management_address"], workdir, process)
    models = model_names().split(",")

    def all_ready() -> bool:
        for name in models:
            info = httpx.get(f"{server.management_url}/models/{name}", timeout=5).json()
            if not any(w.get("status") == "READY" for w in info[0].get("workers", [])):
                return False
        return True

    try:
        _wait("TorchServe", process, timeout, all_ready)
        yield server
    finally:
        _stop(process)
        log.close()


@contextmanager
def gateway(ts: TorchServe, workdir: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[Gateway]:
    """The gateway app under uvicorn, talking to ``ts``; ready when this yields."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    storage = workdir / "files"
    full_env = {
        **os.environ,
        "TORCHSERVE_URL": ts.inference_url,
        "TORCHSERVE_MANAGEMENT_URL": ts.management_url,
        "STORAGE_DIR": str(storage),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{workdir / 'speakers.db'}",
        **(env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    with _python_process(["-m", "gateway"], full_env, workdir / f"gateway-{port}.out") as process:
        _wait("gateway", process, timeout, lambda: httpx.get(f"{url}/ready", timeout=5).status_code == 200)
        yield Gateway(url, process, storage)


@contextmanager
def ts_gate(ts: TorchServe, workdir: Path, token: str, timeout: float = 30) -> Iterator[str]:
    """ts_gate (the token door deployments put in front of TorchServe) in front of ``ts``; yields its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "TS_GATE_TOKEN": token,
        "TS_GATE_HOST": "127.0.0.1",
        "TS_GATE_PORT": str(port),
        "TS_GATE_INFERENCE_URL": ts.inference_url,
        "TS_GATE_MANAGEMENT_URL": ts.management_url,
    }
    url = f"http://127.0.0.1:{port}"
    with _python_process(["-m", "ts_gate"], env, workdir / "ts_gate.out") as process:
        _wait("ts_gate", process, timeout, lambda: httpx.get(f"{url}/ping", timeout=5).status_code == 200)
        yield url


@contextmanager
def _python_process(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python ARGS`` in the repository, output to ``log_path``, in its own session; stopped on exit."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process
    finally:
        _stop(process)
        log.close()


@contextmanager
def postgres(timeout: float = 60) -> Iterator[str]:
    """A throw-away PostgreSQL server on a free loopback port; yields its SQLAlchemy URL.

    Uses Debian's server binaries; initdb refuses root, so the server runs as the
    ``postgres`` system user when started by root, in a fresh folder that user owns.
    """
    import glob
    import pwd
    import shutil
    import tempfile

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    bindir = Path(found[-1]).parent
    workdir = Path(tempfile.mkdtemp(prefix="audiocore-pg-"))
    data, sock = workdir / "pgdata", workdir / "pgsock"
    sock.mkdir(parents=True, exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        for path in (workdir, sock):
            os.chown(path, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    password = "audiocore-test"
    pwfile = workdir / "pwfile"
    pwfile.write_text(password)
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "audiocore",
            "--pwfile",
            str(pwfile),
            "-A",
            "scram-sha-256",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(workdir / "postgres.log"),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://audiocore:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
