"""One real TorchServe (real models) and one real gateway for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import Gateway, TorchServe, gateway, torchserve


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def ts_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    with torchserve(tmp_path_factory.mktemp("torchserve")) as server:
        yield server


@pytest.fixture(scope="session")
def gw(ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with gateway(ts_server, tmp_path_factory.mktemp("gateway")) as server:
        yield server


@pytest.fixture(scope="session")
def direct_model(whisper_dir: Path):  # type: ignore[no-untyped-def]
    """faster-whisper in this process, on the same weights and settings as the handler."""
    from faster_whisper import WhisperModel

    return WhisperModel(str(whisper_dir), device="cpu", compute_type="int8", local_files_only=True)
