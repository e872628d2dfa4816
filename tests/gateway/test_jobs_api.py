"""/jobs: bad input and the states a job answers in, without a model (TorchServe is a closed port here).

What a job produces is tested against the real models in tests/integration/test_jobs.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.app_client import app_client

SECRET = "s3cret-for-tests-only"


def submit(client: Any, audio: bytes, headers: dict[str, str] | None = None, **params: Any) -> Any:
    return client.post("/jobs/transcribe", params=params, files={"file": ("talk.flac", audio)}, headers=headers or {})


def job_files(storage: Path) -> list[str]:
    jobs = storage / ".jobs"
    return sorted(p.name for p in jobs.iterdir()) if jobs.exists() else []


def test_a_job_is_queued_at_once_and_answers_for_its_state(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path / "files", JOB_WORKERS=0) as client:  # no worker: it stays queued
        r = submit(client, jfk.read_bytes(), language="en")
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/jobs/{job['job_id']}"
        assert job["status"] == "queued" and job["progress"] == {"done_sec": 0.0, "total_sec": 11.0, "fraction": 0.0}
        assert job["filename"] == "talk.flac" and job["segments"] == [] and job["result_url"] is None
        assert client.get(r.headers["location"]).json()["status"] == "queued"
        early = client.get(f"/jobs/{job['job_id']}/result")
        assert early.status_code == 409 and early.json() == {"detail": "the job is queued", "status": "queued"}
        cancelled = client.delete(f"/jobs/{job['job_id']}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        again = client.delete(f"/jobs/{job['job_id']}")
        assert again.status_code == 409 and again.json()["status"] == "cancelled"
        assert client.get(f"/jobs/{job['job_id']}/result").status_code == 409


def test_unknown_and_other_tenants_jobs_are_404(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path / "files", JOB_WORKERS=0, API_KEYS="acme:key-a,globex:key-b") as client:
        a, b = {"X-API-Key": "key-a"}, {"X-API-Key": "key-b"}
        job_id = submit(client, jfk.read_bytes(), a).json()["job_id"]
        for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/result", "/jobs/job_000000000000000000000000"):
            r = client.get(path, headers=b if job_id in path else a)
            assert r.status_code == 404 and r.json() == {"detail": "job not found"}
        assert client.delete(f"/jobs/{job_id}", headers=b).status_code == 404
        assert client.get("/jobs", headers=b).json() == {"jobs": [], "next_after": None}
        assert client.get(f"/jobs/{job_id}", headers=a).json()["status"] == "queued"  # untouched


def test_jobs_list_newest_first_a_page_at_a_time(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path / "files", JOB_WORKERS=0) as client:
        ids = []
        for _ in range(3):
            ids.append(submit(client, jfk.read_bytes()).json()["job_id"])
            time.sleep(0.01)
        first = client.get("/jobs", params={"limit": 2}).json()
        second = client.get("/jobs", params={"limit": 2, "after": first["next_after"]}).json()
        assert [j["job_id"] for j in first["jobs"] + second["jobs"]] == ids[::-1]
        assert second["next_after"] is None
        assert all(j["segments"] is None for j in first["jobs"] + second["jobs"])  # lists leave segments out


def test_past_job_max_queued_a_key_gets_429(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path / "files", JOB_WORKERS=0, JOB_MAX_QUEUED=2) as client:
        assert [submit(client, jfk.read_bytes()).status_code for _ in range(2)] == [202, 202]
        r = submit(client, jfk.read_bytes())
        assert r.status_code == 429 and "JOB_MAX_QUEUED" in r.json()["detail"] and int(r.headers["retry-after"]) > 0
        assert len(job_files(tmp_path / "files")) == 2  # the refused one left nothing behind


@pytest.mark.parametrize(
    ("callback", "detail"),
    [
        ("ftp://example.org/hook", "http or https"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://10.0.0.7/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://user:pw@93.184.215.14/hook", "credentials"),
    ],
)
def test_callback_urls_inside_the_network_are_refused_before_any_work(
    tmp_path: Path, jfk: Path, callback: str, detail: str
) -> None:
    with app_client(tmp_path / "files", JOB_WORKERS=0, WEBHOOK_SECRET=SECRET) as client:
        r = submit(client, jfk.read_bytes(), callback_url=callback)
        assert r.status_code == 400 and detail in r.json()["detail"], r.text
        assert client.get("/jobs").json()["jobs"] == [] and job_files(tmp_path / "files") == []


def test_a_callback_without_a_signing_secret_is_refused(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path / "files", JOB_WORKERS=0, WEBHOOK_ALLOW_PRIVATE=True) as client:
        r = submit(client, jfk.read_bytes(), callback_url="http://127.0.0.1:9/hook")
        assert r.status_code == 400 and "WEBHOOK_SECRET" in r.json()["detail"]


def test_bad_audio_and_bad_options_are_400_and_leave_nothing(tmp_path: Path, jfk: Path) -> None:
    with app_client(tmp_path / "files", JOB_WORKERS=0) as client:
        assert submit(client, b"not audio at all" * 100).status_code == 400
        assert submit(client, jfk.read_bytes(), hotwords="x" * 501).status_code == 400
        assert submit(client, jfk.read_bytes(), beam_size=99).status_code == 422
        assert client.get("/jobs").json()["jobs"] == [] and job_files(tmp_path / "files") == []


def test_a_model_server_that_stays_down_fails_the_job_after_its_tries(tmp_path: Path, jfk: Path) -> None:
    with app_client(
        tmp_path / "files", JOB_MAX_ATTEMPTS=2, JOB_RETRY_SEC=0.2, JOB_POLL_SEC=0.1, TORCHSERVE_RETRY_SEC=0
    ) as client:
        job_id = submit(client, jfk.read_bytes(), language="en").json()["job_id"]
        deadline = time.monotonic() + 30
        while (job := client.get(f"/jobs/{job_id}").json())["status"] not in ("failed", "succeeded"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["status"] == "failed" and job["attempts"] == 2
        assert job["error"] == "gave up after 2 tries: model server is not reachable"
        r = client.get(f"/jobs/{job_id}/result")
        assert r.status_code == 409 and r.json()["status"] == "failed" and "not reachable" in r.json()["detail"]
