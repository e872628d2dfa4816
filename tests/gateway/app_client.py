"""An in-process gateway (TestClient runs its lifespan) with per-test settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gateway.app.main import create_app
from gateway.core.config import Settings
from scripts.stack import free_port

# Starlette's TestClient always names its host "testserver"
TEST_HOSTS = "127.0.0.1,localhost,testserver"


@contextmanager
def app_client(storage: Path, **overrides: Any) -> Iterator[TestClient]:
    """A client for a gateway whose TorchServe is, unless overridden, a closed port."""
    dead = f"http://127.0.0.1:{free_port()}"
    values: dict[str, Any] = {
        "STORAGE_DIR": storage,
        "DATABASE_URL": f"sqlite:///{storage.parent / (storage.name + '-speakers.db')}",
        "TORCHSERVE_URL": dead,
        "TORCHSERVE_MANAGEMENT_URL": dead,
        "TORCHSERVE_RETRY_SEC": 0,  # the closed port stays closed: answer 503 at once
        "ALLOWED_HOSTS": TEST_HOSTS,
        **overrides,
    }
    settings = Settings(**values)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def stored_files(storage: Path) -> list[str]:
    """Everything in the store, temp files included."""
    return sorted(p.name for p in storage.iterdir()) if storage.exists() else []
