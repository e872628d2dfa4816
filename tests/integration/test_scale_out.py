"""Two gateway processes sharing one PostgreSQL database and one files directory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.stack import Gateway, TorchServe, gateway, postgres

TIMEOUT = httpx.Timeout(300.0)
LIBRI = "resemble-ai__Resemblyzer/librispeech_test-other"


@pytest.fixture(scope="module")
def pair(ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Gateway]]:
    with postgres() as url:
        shared = tmp_path_factory.mktemp("shared-files")
        env = {"DATABASE_URL": url, "STORAGE_DIR": str(shared)}
        with (
            gateway(ts_server, tmp_path_factory.mktemp("gw-a"), env=env) as a,
            gateway(ts_server, tmp_path_factory.mktemp("gw-b"), env=env) as b,
        ):
            yield a, b


def test_upload_on_one_download_from_the_other(pair: tuple[Gateway, Gateway], jfk: Path) -> None:
    a, b = pair
    name = httpx.post(f"{a.url}/files/upload", files={"file": ("talk.flac", jfk.read_bytes())}).json()["filename"]
    got = httpx.get(f"{b.url}/files/download/{name}")
    assert got.status_code == 200 and got.content == jfk.read_bytes()


def test_enroll_on_one_verify_on_the_other(pair: tuple[Gateway, Gateway], data_dir: Path) -> None:
    a, b = pair
    files = sorted((data_dir / LIBRI / "1998").glob("*.flac"))
    other = sorted((data_dir / LIBRI / "2609").glob("*.flac"))[0]
    r = httpx.post(
        f"{a.url}/speaker/enroll",
        data={"speaker_id": "pg-user"},
        files={"file": (files[0].name, files[0].read_bytes())},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    hit = httpx.post(
        f"{b.url}/speaker/verify",
        data={"speaker_id": "pg-user"},
        files={"probe": (files[1].name, files[1].read_bytes())},
        timeout=TIMEOUT,
    )
    miss = httpx.post(
        f"{b.url}/speaker/verify",
        data={"speaker_id": "pg-user"},
        files={"probe": (other.name, other.read_bytes())},
        timeout=TIMEOUT,
    )
    assert hit.json()["decision"] is True and miss.json()["decision"] is False
    assert httpx.delete(f"{b.url}/speaker/speakers/pg-user").status_code == 200
    assert (
        httpx.post(
            f"{a.url}/speaker/verify",
            data={"speaker_id": "pg-user"},
            files={"probe": (files[1].name, files[1].read_bytes())},
            timeout=TIMEOUT,
        ).status_code
        == 404
    )


def test_concurrent_enrolls_across_gateways_lose_no_sample(pair: tuple[Gateway, Gateway], data_dir: Path) -> None:
    a, b = pair
    # 0007 scores 0.71 against 0004 (below the 0.72 threshold): were those two enrolled first, the
    # enroll guard would rightly refuse the second; the other eight all agree (>= 0.78)
    files = [f for f in sorted((data_dir / LIBRI / "3005").glob("*.flac")) if not f.name.endswith("0007.flac")][:8]

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"{(a, b)[i % 2].url}/speaker/enroll",
                        data={"speaker_id": "pg-crowd"},
                        files={"file": (f.name, f.read_bytes())},
                    )
                    for i, f in enumerate(files)
                )
            )

    responses = asyncio.run(run())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["samples"] for r in responses) == list(range(1, 9))
    listing = {s["speaker_id"]: s["samples"] for s in httpx.get(f"{b.url}/speaker/speakers").json()["speakers"]}
    assert listing["pg-crowd"] == 8
