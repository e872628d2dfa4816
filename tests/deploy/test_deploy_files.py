"""The deployment files pass real validators, and a broken one fails them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.paths import ROOT

CHECK = ROOT / "scripts" / "check_deploy.sh"


def _copy(tmp_path: Path) -> Path:
    for item in ("k8s", "docker", "docker-compose.yml", ".hadolint.yaml"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    return tmp_path


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK), str(root)], capture_output=True, text=True, timeout=300)


def test_deployment_files_are_valid() -> None:
    result = _check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "k8s/gpu: valid" in result.stdout and "k8s/cpu: valid" in result.stdout


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("k8s/base/gateway.yaml", "replicas: 2", "replicas: two"),  # wrong type
        ("k8s/base/torchserve.yaml", "failureThreshold: 60", "failureTreshold: 60"),  # unknown field
        ("docker-compose.yml", "restart: unless-stopped", "restart: [unless-stopped]"),
        ("docker/gateway.Dockerfile", "USER 10001", "USER root"),
    ],
)
def test_a_broken_file_fails_the_check(tmp_path: Path, path: str, old: str, new: str) -> None:
    root = _copy(tmp_path)
    target = root / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    assert _check(root).returncode != 0
