"""`make eval`: quality of the running service on a manifest of real clips, next to the models in-process.

    python -m eval.run                                  # starts a private stack, default manifest
    python -m eval.run --url http://127.0.0.1:8000      # against a running service (`make up`)
    python -m eval.run --manifest other.csv --data-dir /clips

Writes eval/REPORT.md (and eval/report.json): ASR WER per language (service and faster-whisper
in-process, same weights and options), ASR on noisy clips with and without enhance=true, speaker
verification EER and accuracy at the configured threshold, enhancement PESQ-wb / STOI / SI-SDR per
method, and words returned for silence and noise.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from eval.diarization import eval_diarization
from eval.quality import PAIRS, si_sdr
from eval.textnorm import wer
from scripts.paths import DATA_DIR, ROOT, WHISPER_WEIGHTS

REPORT = ROOT / "eval" / "REPORT.md"
TIMEOUT = httpx.Timeout(600.0)
LIBRI = "resemble-ai__Resemblyzer/librispeech_test-other"


@dataclass(frozen=True)
class Clip:
    path: Path
    language: str
    transcript: str
    category: str


def load_manifest(manifest: Path, data_dir: Path) -> list[Clip]:
    with manifest.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        Clip(data_dir / r["file"], r["language"], r["transcript"], r["category"])
        for r in rows
        if r["transcript"] and r["language"] in ("en", "ru") and r["category"] != "meta" and "|" not in r["transcript"]
    ]


def eval_asr(client: httpx.Client, clips: list[Clip]) -> dict[str, dict[str, float]]:
    from faster_whisper import WhisperModel

    from handlers.whisper.asr import resolve_device

    device, compute = resolve_device("auto", "auto")
    model = WhisperModel(str(WHISPER_WEIGHTS), device=device, compute_type=compute, local_files_only=True)
    by_lang: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for clip in clips:
        if "D" in clip.category:  # noisy clips are evaluated on their own below
            continue
        r = client.post(
            "/audio/transcribe",
            params={"language": clip.language},
            files={"file": (clip.path.name, clip.path.read_bytes())},
        )
        r.raise_for_status()
        segments, _ = model.transcribe(str(clip.path), language=clip.language, beam_size=5)
        by_lang[clip.language].append((clip.transcript, r.json()["text"], "".join(s.text for s in segments)))
    return {
        lang: {
            "clips": len(rows),
            "service_wer": wer([r for r, _, _ in rows], [s for _, s, _ in rows], lang),
            "in_process_wer": wer([r for r, _, _ in rows], [d for _, _, d in rows], lang),
        }
        for lang, rows in by_lang.items()
    }


def eval_noisy(client: httpx.Client, data_dir: Path, clips: list[Clip]) -> dict[str, float]:
    noisy = [c for c in clips if "valentini_noisy" in str(c.path)]
    out: dict[str, float] = {"clips": len(noisy)}
    for label, params in (("plain", {}), ("enhanced", {"enhance": "true"})):
        texts = []
        for clip in noisy:
            r = client.post(
                "/audio/transcribe",
                params={"language": "en", **params},
                files={"file": (clip.path.name, clip.path.read_bytes())},
            )
            r.raise_for_status()
            texts.append(r.json()["text"])
        out[f"wer_{label}"] = wer([c.transcript for c in noisy], texts)
    return out


def eer(same: np.ndarray, diff: np.ndarray) -> tuple[float, float]:
    """Equal error rate and the threshold where it occurs."""
    best = (1.0, 0.0)
    for th in np.unique(np.concatenate([same, diff])):
        far, frr = float(np.mean(diff >= th)), float(np.mean(same < th))
        if abs(far - frr) < abs(best[0]):
            best = (far - frr, float(th))
    th = best[1]
    return (float(np.mean(diff >= th)) + float(np.mean(same < th))) / 2, th


def eval_speakers(client: httpx.Client, data_dir: Path) -> dict[str, float]:
    """Enroll one utterance per speaker, verify 4 others of each against every speaker."""
    speakers = {d.name: sorted(d.glob("*.flac")) for d in sorted((data_dir / LIBRI).iterdir()) if d.is_dir()}
    tag = datetime.now(UTC).strftime("%H%M%S")
    for spk, files in speakers.items():
        client.post(
            "/speaker/enroll",
            data={"speaker_id": f"eval-{tag}-{spk}"},
            files={"file": (files[0].name, files[0].read_bytes())},
        ).raise_for_status()
    same: list[float] = []
    diff: list[float] = []
    threshold = 0.0
    for spk, files in speakers.items():
        for probe in files[1:5]:
            for enrolled in speakers:
                r = client.post(
                    "/speaker/verify",
                    data={"speaker_id": f"eval-{tag}-{enrolled}"},
                    files={"probe": (probe.name, probe.read_bytes())},
                )
                r.raise_for_status()
                body = r.json()
                threshold = body["threshold"]
                (same if spk == enrolled else diff).append(body["score"])
    for spk in speakers:
        client.delete(f"/speaker/speakers/eval-{tag}-{spk}")
    s, d = np.array(same), np.array(diff)
    rate, at = eer(s, d)
    accuracy = (np.sum(s >= threshold) + np.sum(d < threshold)) / (len(s) + len(d))
    return {
        "trials": len(s) + len(d),
        "same": len(s),
        "eer": rate,
        "eer_threshold": at,
        "threshold": threshold,
        "accuracy": float(accuracy),
    }


def eval_enhance(client: httpx.Client, data_dir: Path) -> dict[str, dict[str, float]]:
    import soxr
    from pesq import pesq
    from pystoi import stoi

    from wire.audio import read_audio_file
    from wire.pcm import from_wav

    def scores(clean: np.ndarray, audio: np.ndarray, rate: int) -> tuple[float, float, float]:
        n = min(len(clean), len(audio))
        c16, a16 = (soxr.resample(x[:n], rate, 16000) if rate != 16000 else x[:n] for x in (clean, audio))
        return float(pesq(16000, c16, a16, "wb")), float(stoi(c16, a16, 16000, extended=False)), si_sdr(clean, audio)

    rows: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for clean_name, noisy_name in PAIRS:
        noisy_file = read_audio_file(data_dir / noisy_name)
        noisy, rate = noisy_file.samples, noisy_file.sample_rate
        clean = read_audio_file(data_dir / clean_name, rate).samples
        rows["noisy input"].append(scores(clean, noisy, rate))
        for method in ("deepfilternet", "noisereduce"):
            r = client.post(
                "/audio/enhance",
                params={"method": method},
                files={"file": (Path(noisy_name).name, (data_dir / noisy_name).read_bytes())},
            )
            r.raise_for_status()
            wav = client.get(f"/files/download/{r.json()['output_filename']}")
            out, _ = from_wav(wav.content)
            rows[method].append(scores(clean, out, rate))
    return {
        k: {
            "pesq_wb": float(np.mean([x[0] for x in v])),
            "stoi": float(np.mean([x[1] for x in v])),
            "si_sdr": float(np.mean([x[2] for x in v])),
        }
        for k, v in rows.items()
    }


def eval_hallucination(client: httpx.Client, url: str) -> dict[str, dict[str, int]]:
    from clients.asr_stream import stream_pcm
    from wire.pcm import to_pcm16, to_wav

    rng = np.random.default_rng(0)
    signals = {
        "silence 30 s": np.zeros(30 * 16000, np.float32),
        "white noise 30 s": (0.05 * rng.standard_normal(30 * 16000)).astype(np.float32),
    }
    out: dict[str, dict[str, int]] = {}
    for name, audio in signals.items():
        counts = {}
        for label, params in (("/audio/transcribe", {}), ("/audio/transcribe vad_filter", {"vad_filter": "true"})):
            r = client.post(
                "/audio/transcribe",
                params={"language": "en", **params},
                files={"file": ("x.wav", to_wav(audio, 16000))},
            )
            r.raise_for_status()
            counts[label] = len(r.json()["text"].split())
        pcm = to_pcm16(audio)

        async def frames(pcm: bytes = pcm) -> Any:
            for i in range(0, len(pcm), 3200):
                yield pcm[i : i + 3200]

        ws = url.replace("http", "ws", 1) + "/ws/asr?language=en"
        result = asyncio.run(stream_pcm(ws, frames(), 16000, keepalive=False))
        counts["/ws/asr"] = len((result.final or {}).get("text", "").split())
        out[name] = counts
    return out


@contextmanager
def service(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from scripts.stack import gateway, torchserve

    with tempfile.TemporaryDirectory() as tmp, torchserve(Path(tmp) / "ts") as ts, gateway(ts, Path(tmp) / "gw") as gw:
        yield gw.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running service; default: start a private TorchServe + gateway")
    parser.add_argument("--manifest", type=Path, default=DATA_DIR / "manifest.csv")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder the manifest's paths are relative to")
    parser.add_argument(
        "--only-diarization", action="store_true", help="measure diarization alone; keep the rest of report.json"
    )
    args = parser.parse_args()
    data_dir = args.data_dir or args.manifest.parent
    clips = load_manifest(args.manifest, data_dir)
    if args.only_diarization:
        report = json.loads((ROOT / "eval" / "report.json").read_text())
        with service(args.url) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as client:
            report["diarization"] = eval_diarization(client, data_dir)
        (ROOT / "eval" / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        REPORT.write_text(render(report))
        print(REPORT.read_text())
        return
    with service(args.url) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "manifest": str(args.manifest),
            "asr": eval_asr(client, clips),
            "noisy_asr": eval_noisy(client, data_dir, clips),
            "speakers": eval_speakers(client, data_dir),
            "enhance": eval_enhance(client, data_dir),
            "hallucination": eval_hallucination(client, url),
            "diarization": eval_diarization(client, data_dir),
        }
    (ROOT / "eval" / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    REPORT.write_text(render(report))
    print(REPORT.read_text())


def render(r: dict[str, Any]) -> str:
    from scripts.machine import describe

    m = describe()
    lines = [
        "# Quality evaluation (`make eval`)",
        "",
        f"Run {r['when']} with `python -m eval.run` (manifest `{Path(r['manifest']).name}`) on {m['cpu']}, "
        f"{m['cores']} cores, GPUs: {m['gpus']}. Text normalised by `eval/textnorm.py` (lower case, ё→е, digits "
        "spelled out with num2words in the clip's language, punctuation dropped).",
        "",
        "## Speech recognition (Whisper base; beam 5, language given)",
        "",
        "| language | clips | WER service | WER faster-whisper in-process |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {lang} | {v['clips']} | {v['service_wer']:.1%} | {v['in_process_wer']:.1%} |"
            for lang, v in r["asr"].items()
        ),
        "",
        f"Noisy clips (Valentini, {r['noisy_asr']['clips']}): WER {r['noisy_asr']['wer_plain']:.1%} as sent, "
        f"{r['noisy_asr']['wer_enhanced']:.1%} with `enhance=true`.",
        "",
        "## Speaker verification (6 LibriSpeech speakers, one enrolled utterance each)",
        "",
        f"{r['speakers']['trials']} trials ({r['speakers']['same']} same-speaker): EER {r['speakers']['eer']:.2%} "
        f"(at {r['speakers']['eer_threshold']:.3f}); accuracy at the configured threshold "
        f"{r['speakers']['threshold']}: {r['speakers']['accuracy']:.1%}.",
        "",
        "## Enhancement (3 Valentini pairs + DeepFilterNet's 0 dB pair, means)",
        "",
        "| audio | PESQ-wb | STOI | SI-SDR dB |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {k} | {v['pesq_wb']:.2f} | {v['stoi']:.3f} | {v['si_sdr']:.1f} |" for k, v in r["enhance"].items()),
        "",
        "## Hallucination: words returned for non-speech",
        "",
        "| input | " + " | ".join(next(iter(r["hallucination"].values())).keys()) + " |",
        "| --- |" + " ---: |" * len(next(iter(r["hallucination"].values()))),
        *(f"| {k} | " + " | ".join(str(n) for n in v.values()) + " |" for k, v in r["hallucination"].items()),
        "",
        *render_diarization(r["diarization"]),
    ]
    return "\n".join(lines)


def render_diarization(d: dict[str, Any]) -> list[str]:
    ident, cost = d["identification"], d["cost"]
    return [
        "## Who spoke when (DER with pyannote.metrics)",
        "",
        "| data | DER | goal |",
        "| --- | ---: | ---: |",
        f"| {d['conversations']} built LibriSpeech conversations (2-4 speakers), blind, collar 0.25 | {d['der_blind']:.1%} | 8 % |",
        f"| the same, every speaker enrolled (`known_speakers=all`), collar 0.25 | {d['der_enrolled']:.1%} | 5 % |",
        f"| pyannote sample.wav, blind, collar 0 | {d['sample_der_blind']:.1%} | 10 % |",
        f"| pyannote sample.wav, `num_speakers=2`, collar 0 | {d['sample_der_2_speakers']:.1%} | |",
        *(
            f"| AMI {k} (30 s UEM), blind, collar 0 / 0.25 | {v['collar_0.0']:.1%} / {v['collar_0.25']:.1%} | 30 % |"
            for k, v in d["ami"].items()
        ),
        "",
        f"Speaker count right on {d['count_right']} of {d['conversations']} conversations (goal 90 %).",
        f"Identification (1:N): top-1 {ident['top1']:.1%} over {ident['probes']} probes of enrolled speakers (goal 97 %); "
        f"{ident['unenrolled_rejected']:.1%} of unenrolled probes rejected at the threshold (goal 95 %).",
        f"Cost: `diarize=true` took {cost['diarize']} s against {cost['plain']} s for the same transcription "
        f"(medians of {cost.get('runs', 1)} interleaved runs) "
        f"(+{cost['added']:.0%}; goal 25 %).",
        "",
    ]


if __name__ == "__main__":
    main()
