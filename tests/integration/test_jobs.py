"""Jobs end to end: real TorchServe, real speech, a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from eval.textnorm import normalize, wer
from scripts.stack import Gateway, TorchServe, gateway
from tests.webhook_receiver import webhook_receiver
from wire.audio import read_audio_file
from wire.pcm import to_wav

SECRET = "integration-webhook-secret"
TIMEOUT = httpx.Timeout(300.0)


@pytest.fixture(scope="module")
def jobs_gw(ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
        "WEBHOOK_BACKOFF_SEC": "0.2",
        "WEBHOOK_MAX_TRIES": "3",
        "JOB_POLL_SEC": "0.2",
        # one piece at a time, so progress is seen to move piece by piece
        "ASR_MAX_PARALLEL_PIECES": "1",
    }
    with gateway(ts_server, tmp_path_factory.mktemp("jobs-gw"), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def long_talk(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """71 s of English speech: three pieces."""
    parts = [data_dir / "snakers4__silero-vad" / "en.wav", data_dir / "openai__whisper" / "jfk.flac"]
    audio = np.concatenate([read_audio_file(p, 16000).samples for p in parts])
    path = tmp_path_factory.mktemp("talk") / "talk.wav"
    path.write_bytes(to_wav(audio, 16000))
    return path


def submit(gw: Gateway, path: Path, **params: Any) -> httpx.Response:
    with path.open("rb") as fh:
        return httpx.post(f"{gw.url}/jobs/transcribe", params=params, files={"file": (path.name, fh)}, timeout=TIMEOUT)


def follow(gw: Gateway, job_id: str, timeout: float = 240.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll until the job ends; the last view and every view seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = httpx.get(f"{gw.url}/jobs/{job_id}", timeout=30).json()
        seen.append(view)
        if view["status"] in ("succeeded", "failed", "cancelled"):
            return view, seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end: {seen[-1]}")


def test_a_long_recording_as_a_job(jobs_gw: Gateway, long_talk: Path) -> None:
    with webhook_receiver() as receiver:
        r = submit(jobs_gw, long_talk, language="en", callback_url=receiver.url)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        final, seen = follow(jobs_gw, job_id)
        deliveries = receiver.wait_for(1)
        time.sleep(0.5)  # a second delivery would have come by now
        deliveries = list(receiver.received)
    assert final["status"] == "succeeded", final
    # progress moved piece by piece, never backwards, and the segments came while it ran
    fractions = [v["progress"]["fraction"] for v in seen]
    assert fractions == sorted(fractions) and final["progress"]["fraction"] == 1.0
    midway = {f for v, f in zip(seen, fractions, strict=True) if v["status"] == "running" and 0 < f < 1}
    assert len(midway) >= 2, fractions
    assert any(v["segments"] for v in seen if v["status"] == "running")

    result = httpx.get(f"{jobs_gw.url}/jobs/{job_id}/result", timeout=30).json()
    with long_talk.open("rb") as fh:
        sync = httpx.post(
            f"{jobs_gw.url}/audio/transcribe", params={"language": "en"}, files={"file": fh}, timeout=TIMEOUT
        ).json()
    # the same pieces with the same options: the same transcript as the synchronous route
    assert wer([sync["text"]], [result["text"]]) <= 0.02
    assert result["raw"]["duration"] == pytest.approx(71.0, abs=0.1)
    assert "your country" in normalize(result["text"]) and "dublin" in normalize(result["text"])
    assert [s["text"] for s in final["segments"]] == [s["text"] for s in result["raw"]["segments"]]
    srt = httpx.get(f"{jobs_gw.url}/jobs/{job_id}/result", params={"format": "srt"}).text
    vtt = httpx.get(f"{jobs_gw.url}/jobs/{job_id}/result", params={"format": "vtt"}).text
    assert srt.startswith("1\n00:00:00,000 --> ") and vtt.startswith("WEBVTT")
    assert httpx.get(f"{jobs_gw.url}/jobs/{job_id}/result", params={"format": "text"}).text.strip() == result["text"]

    # one signed delivery, and the job says so
    assert len(deliveries) == 1
    hook = deliveries[0]
    assert hook.signed_by(SECRET) and not hook.signed_by("some-other-secret-value")
    assert hook.payload["type"] == "job.succeeded" and hook.payload["job"]["job_id"] == job_id
    assert hook.payload["job"]["result_url"] == f"/jobs/{job_id}/result"
    callback = httpx.get(f"{jobs_gw.url}/jobs/{job_id}").json()["callback"]
    assert callback["state"] == "delivered" and callback["attempts"] == 1
    assert callback["delivery_id"] == hook.delivery_id == hook.payload["delivery_id"]


def test_a_receiver_that_is_down_fails_the_callback_not_the_job(jobs_gw: Gateway, jfk: Path) -> None:
    with webhook_receiver() as gone:
        url = gone.url  # closed when this block ends: nothing listens there any more
    job_id = submit(jobs_gw, jfk, language="en", callback_url=url).json()["job_id"]
    final, _ = follow(jobs_gw, job_id)
    assert final["status"] == "succeeded"
    deadline = time.monotonic() + 30
    while (callback := httpx.get(f"{jobs_gw.url}/jobs/{job_id}").json()["callback"])["state"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert callback["state"] == "failed" and callback["attempts"] == 3 and callback["last_error"]
    result = httpx.get(f"{jobs_gw.url}/jobs/{job_id}/result")
    assert result.status_code == 200 and "country" in normalize(result.json()["text"])


def test_a_cancelled_job_sends_no_more_pieces(jobs_gw: Gateway, long_talk: Path) -> None:
    job_id = submit(jobs_gw, long_talk, language="en").json()["job_id"]
    deadline = time.monotonic() + 120
    while (view := httpx.get(f"{jobs_gw.url}/jobs/{job_id}").json())["progress"]["done_sec"] == 0:
        assert time.monotonic() < deadline and view["status"] in ("queued", "running")
        time.sleep(0.05)
    cancelled = httpx.delete(f"{jobs_gw.url}/jobs/{job_id}").json()
    assert cancelled["status"] == "cancelled"
    time.sleep(8)  # longer than a piece takes here: a piece sent after the cancel would have been written
    after = httpx.get(f"{jobs_gw.url}/jobs/{job_id}").json()
    assert after["status"] == "cancelled" and after["progress"]["done_sec"] == cancelled["progress"]["done_sec"]
    assert after["progress"]["fraction"] < 1.0


def test_a_diarized_job_names_its_speakers(jobs_gw: Gateway, jfk: Path) -> None:
    job_id = submit(jobs_gw, jfk, language="en", diarize="true", word_timestamps="true").json()["job_id"]
    final, _ = follow(jobs_gw, job_id)
    assert final["status"] == "succeeded"
    raw = httpx.get(f"{jobs_gw.url}/jobs/{job_id}/result").json()["raw"]
    assert [s["label"] for s in raw["speakers"]] == ["SPEAKER_00"]
    assert all(s["speaker"] == "SPEAKER_00" for s in raw["segments"])
    assert all(w["speaker"] == "SPEAKER_00" for s in raw["segments"] for w in s["words"])


def test_the_client_shows_progress_and_writes_subtitles(jobs_gw: Gateway, jfk: Path, tmp_path: Path) -> None:
    out = tmp_path / "jfk.srt"
    command = [sys.executable, "-m", "clients.transcribe", str(jfk), "-o", str(out), "--url", jobs_gw.url]
    done = subprocess.run(
        [*command, "--language", "en", "--poll", "0.2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "100.0%" in done.stderr and "succeeded" in done.stderr
    srt = out.read_text()
    assert srt.startswith("1\n00:00:00,000 --> ") and "country" in srt
