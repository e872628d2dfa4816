"""/files: round trips, no overwrite, no escape from the store, limits while streaming."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from gateway.app.main import create_app
from gateway.core.config import Settings
from tests.gateway.app_client import app_client, stored_files


def test_upload_then_download_round_trip(tmp_path: Path, jfk: Path) -> None:
    data = jfk.read_bytes()
    with app_client(tmp_path) as client:
        r = client.post("/files/upload", files={"file": ("jfk.flac", data, "audio/flac")})
        assert r.status_code == 200 and r.json() == {"filename": "jfk.flac"}
        got = client.get("/files/download/jfk.flac")
        assert got.status_code == 200 and got.content == data
    assert stored_files(tmp_path) == ["jfk.flac"]


def test_same_name_twice_keeps_both(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        first = client.post("/files/upload", files={"file": ("a.wav", b"first", "audio/wav")}).json()["filename"]
        second = client.post("/files/upload", files={"file": ("a.wav", b"second", "audio/wav")}).json()["filename"]
        assert first == "a.wav" and second != first
        assert client.get(f"/files/download/{first}").content == b"first"
        assert client.get(f"/files/download/{second}").content == b"second"


def test_client_paths_in_upload_names_are_dropped(tmp_path: Path) -> None:
    with app_client(tmp_path / "store") as client:
        for wanted in ("../../evil.wav", "..\\..\\evil.wav", "/etc/evil.wav", ".hidden", "запись 1.wav"):
            name = client.post("/files/upload", files={"file": (wanted, b"x", "audio/wav")}).json()["filename"]
            assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert not (tmp_path / "evil.wav").exists()
    assert "запись 1.wav" in stored_files(tmp_path / "store")


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "%2e%2e",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fsecret.txt",
        "..%5csecret.txt",
        "%2fetc%2fpasswd",
        "secret.txt%00.wav",
        ".hidden",
        ".upload-partial",
        "a" * 300,
    ],
)
def test_download_never_leaves_the_store(tmp_path: Path, name: str) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    (store / ".hidden").write_text("TOP SECRET")
    with app_client(store) as client:
        r = client.get(f"/files/download/{name}")
    assert r.status_code in (400, 404)
    assert "TOP SECRET" not in r.text and r.json()["detail"]


def test_missing_file_is_404_with_seed_detail(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.get("/files/download/nope.wav")
    assert r.status_code == 404 and r.json() == {"detail": "File not found"}


def test_upload_over_limit_is_413_and_stores_nothing(tmp_path: Path) -> None:
    with app_client(tmp_path, MAX_UPLOAD_BYTES=1000, MULTIPART_OVERHEAD_BYTES=500) as client:
        r = client.post("/files/upload", files={"file": ("big.wav", b"x" * 5000, "audio/wav")})
        assert r.status_code == 413 and "exceeds" in r.json()["detail"]
        # just over the file limit but under the body limit: caught while copying
        r = client.post("/files/upload", files={"file": ("big.wav", b"x" * 1200, "audio/wav")})
        assert r.status_code == 413
    assert stored_files(tmp_path) == []


BOUNDARY = "XyZ"
PART_HEAD = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f.wav"\r\n\r\n'.encode()


def _upload_scope(app: object) -> dict:  # type: ignore[type-arg]
    """A raw ASGI request to /files/upload with a multipart body and no Content-Length."""
    return {
        "type": "http",
        "method": "POST",
        "path": "/files/upload",
        "raw_path": b"/files/upload",
        "query_string": b"",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("c", 1),
        "root_path": "",
        "app": app,
    }


async def test_streamed_body_is_cut_off_without_content_length(tmp_path: Path) -> None:
    """Chunked upload with no Content-Length: the limit trips mid-stream, not after buffering."""
    app = create_app(Settings(STORAGE_DIR=tmp_path, MAX_UPLOAD_BYTES=10_000, MULTIPART_OVERHEAD_BYTES=0))
    boundary, head = BOUNDARY, PART_HEAD
    chunks = [head] + [b"y" * 4096] * 50
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        if pulled <= len(chunks):
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": True}
        return {"type": "http.request", "body": f"\r\n--{boundary}--\r\n".encode(), "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    app.state.settings = None  # lifespan not run: the limit must fire before any route code
    await app(_upload_scope(app), receive, send)
    assert sent[0]["status"] == 413
    assert pulled < 10  # stopped early, not after reading all 200 KB
    assert stored_files(tmp_path) == []


async def test_dropped_upload_leaves_no_file(tmp_path: Path) -> None:
    from gateway.app.services.file_store import LocalFileStore

    app = create_app(Settings(STORAGE_DIR=tmp_path))
    app.state.store = LocalFileStore(tmp_path)
    app.state.settings = Settings(STORAGE_DIR=tmp_path)
    head = PART_HEAD
    messages = [{"type": "http.request", "body": head + b"z" * 10_000, "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        pass

    with contextlib.suppress(Exception):  # a vanished client may surface as an error; only the store matters
        await app(_upload_scope(app), receive, send)
    assert stored_files(tmp_path) == []


def test_empty_upload_is_400(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.post("/files/upload", files={"file": ("e.wav", b"", "audio/wav")})
    assert r.status_code == 400 and r.json()["detail"] == "empty file"
    assert stored_files(tmp_path) == []
