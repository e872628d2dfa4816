"""`make bench`: the service against its models in-process, in one run, on one machine.

- Transcription: /audio/transcribe vs faster-whisper in-process, same weights (Whisper
  base, int8 on CPU or float16 on CUDA), clips and options (beam 5, language given).
  Requests go one at a time and the two sides alternate, so they never compete for
  cores; the figure that matters is the ratio of medians (goal <= 1.10).
- Enhancement: real-time factor of each method, through /audio/enhance and in-process.
- Speaker verification: latency of /speaker/verify with a reference file and against
  an enrolled speaker.
- Jobs: a one-hour recording as a job next to /audio/transcribe (benchmarks/jobs.py).
- Live streams: word latency and final WER of /ws/asr next to WhisperLive, ramping up the
  number of simultaneous real-time streams (benchmarks/streams.py).

    python -m benchmarks.run [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.common import CLIPS, DATA, RESULTS, PeakMemory, worker_models
from benchmarks.enhance_verify import bench_enhance, bench_verify
from benchmarks.jobs import bench_jobs, long_recording
from benchmarks.report import write_markdown
from benchmarks.streams import (
    STAGGER_SEC,
    STREAM_CLIP,
    bench_streams,
    excerpts,
    max_streams,
    whisper_live_server,
)
from benchmarks.throughput import bench_engine, bench_throughput, bench_without_batching, peer_server, plot
from handlers.whisper.asr import resolve_device
from scripts.machine import describe
from scripts.paths import ROOT, WHISPER_WEIGHTS
from scripts.stack import gateway, torchserve

STREAM_SECONDS = 30.0
STREAM_LEVELS = (1, 2, 3, 4, 6, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--job-minutes", type=float, default=60.0, help="length of the jobs benchmark's recording")
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    device, compute_type = resolve_device("auto", "auto")
    model = WhisperModel(
        str(WHISPER_WEIGHTS),
        device=device,
        compute_type=compute_type,
        local_files_only=True,
    )
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        # the model API is on for this run only: the batching-off pass registers a second whisper
        torchserve(Path(tmp) / "ts", extra_config={"enable_model_api": "true"}) as ts,
        # an hour of 16 kHz PCM16 WAV (the jobs benchmark) is 115 MB
        gateway(ts, Path(tmp) / "gw", env={"MAX_UPLOAD_BYTES": str(2**30)}) as gw,
        PeakMemory({"gateway": gw.process.pid, "torchserve": ts.process.pid}, worker_models(ts)) as memory,
    ):
        client = httpx.Client(timeout=600)
        for name, lang in CLIPS:
            path = DATA / name
            data = path.read_bytes()
            # warm-up, both sides
            client.post(f"{gw.url}/audio/transcribe", params={"language": lang}, files={"file": (path.name, data)})
            list(model.transcribe(str(path), language=lang, beam_size=5)[0])
            service, direct = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                r = client.post(
                    f"{gw.url}/audio/transcribe", params={"language": lang}, files={"file": (path.name, data)}
                )
                service.append(time.perf_counter() - t0)
                r.raise_for_status()
                t0 = time.perf_counter()
                segments, info = model.transcribe(str(path), language=lang, beam_size=5)
                list(segments)
                direct.append(time.perf_counter() - t0)
            rows.append(
                {
                    "clip": name,
                    "audio_sec": round(info.duration, 2),
                    "service_median_sec": round(statistics.median(service), 3),
                    "direct_median_sec": round(statistics.median(direct), 3),
                    "ratio": round(statistics.median(service) / statistics.median(direct), 3),
                }
            )
            print(rows[-1])
        enhance_rows = bench_enhance(client, gw.url, args.repeats)
        verify = bench_verify(client, gw.url, args.repeats)
        stream_clips = excerpts(model, DATA / STREAM_CLIP, STREAM_SECONDS, "en")
        stream_rows = bench_streams("audio_core", gw.url, stream_clips, "en", STREAM_LEVELS)
        throughput_rows = bench_throughput(gw.url, (1, 4, 8), 16)
        ours_openai = bench_throughput(gw.url, (1, 4, 8), 16, "/v1/audio/transcriptions")
        nobatch_rows, batching_pairs = bench_without_batching(ts, Path(tmp), gw.url)
        long_path, long_sec = long_recording(args.job_minutes, Path(tmp))
        jobs_row = bench_jobs(gw.url, gw.process.pid, long_path, long_sec)
    # The PyTorch engine runs on a stack of its own, after ours has stopped, so neither competes for the cores.
    with tempfile.TemporaryDirectory() as tmp:
        openai_engine_rows = bench_engine("openai-whisper", Path(tmp))
    # The peer runs alone, after our stack has stopped, so neither competes for the cores.
    with tempfile.TemporaryDirectory() as tmp, peer_server(Path(tmp)) as peer_url:
        peer_rows = bench_throughput(peer_url, (1, 4, 8), 16, "/v1/audio/transcriptions") if peer_url else []
    with whisper_live_server() as live_url:
        live_rows = bench_streams("whisper_live", live_url, stream_clips, "en", STREAM_LEVELS) if live_url else []
    result = {
        "benchmark": "transcribe latency: gateway + TorchServe vs faster-whisper in-process",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "device": f"{device}/{compute_type}",
        "repeats": args.repeats,
        "rows": rows,
        "overall_ratio_of_medians": round(
            statistics.median(r["service_median_sec"] for r in rows)
            / statistics.median(r["direct_median_sec"] for r in rows),
            3,
        ),
        "enhance": enhance_rows,
        "verify": verify,
        "stream": {
            "clip": STREAM_CLIP,
            "seconds": STREAM_SECONDS,
            "stagger_sec": STAGGER_SEC,
            "audio_core": stream_rows,
            "whisper_live": live_rows,
        },
        "throughput": throughput_rows,
        "throughput_batch_size_1": nobatch_rows,
        "batching_pairs_8_clients": batching_pairs,
        "throughput_openai_whisper_engine": openai_engine_rows,
        "openai_route": {"audio_core": ours_openai, "faster_whisper_server": peer_rows},
        "peak_rss_mib": {k: round(v) for k, v in sorted(memory.peak.items())},
        "jobs": {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": describe(), **jobs_row},
        "max_realtime_streams_p95_le_2s": {
            "audio_core": max_streams(stream_rows),
            "whisper_live": max_streams(live_rows),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    plot(throughput_rows, ROOT / "benchmarks" / "throughput.png")
    write_markdown(result)
    print(f"overall ratio {result['overall_ratio_of_medians']}; written to {RESULTS}")


if __name__ == "__main__":
    main()
