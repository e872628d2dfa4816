"""The GPU check of issue #13: the PyTorch Whisper engine on CUDA, and whether CTranslate2's wheel runs there.

Three steps, because the GPU machine has no network, no PyAV and takes at most 64 MiB per call:

    python -m scripts.gpu_check prepare          # here: .gpu/part-NN (weights, clips, packages) to carry
    python3 -m scripts.gpu_check run BUNDLE OUT  # there: decodes, timings and memory into OUT/gpu.json
    python -m scripts.gpu_check report GPU_JSON [STOCK_JSON [REPEAT_JSON]]  # here: WER vs references and vs this CPU's
                                 # own decode; benchmarks/results/gpu.json and its RESULTS.md section
    python -m scripts.gpu_check add-card GPU_JSON  # here: a run on another GPU model beside the first
    python -m scripts.gpu_check add-rerun GPU_JSON CPU_JSON COMMIT [NOTE]  # here: a later code's engine section
                                 # (GPU_CHECK_SKIP=ctranslate2,faster_whisper_fallback,profile there; CPU_JSON:
                                 # the same with GPU_CHECK_DRY=1 here, for the features' texts)

What ``run`` measures, each section saved as soon as it is done (a failure costs only its section):
- ``ctranslate2``: the PyPI wheel's CUDA support on that machine: device count, compute types, the
  CUDA 12 libraries it loads at run time, and one encode of a tiny random Whisper model on the GPU.
- ``throughput``: 1, 8 and 32 real 30 s windows (AMI meeting excerpts) as one batched decode, beam 5:
  audio-seconds per second, peak GPU memory and the rows of each decode the batch took; the 8
  windows one after another, for the ratio; and both again with ``fallback_at_once``.
- ``attention``: 11 windows with PyTorch's flash attention, then with cuDNN's (``cudnn_attention``),
  twice each: cuDNN's first pass pays for a kernel graph per new shape.
- ``transcripts``: the shared English and Russian corpora of the API parity test, one batch per
  language, plus the English batch with word timestamps (cross-attention alignment on CUDA).
- ``features``: the engine's paths beyond one-language batches: a 60 s recording through the window
  loop, English and Russian clips in one batch, language detection, translation and a sampled decode.
- ``profile``: the largest batch's first windows as one decode under torch.profiler: the GPU's busy time against
  the wall, kernel launches, decoding steps, and the top operators by host and by device time.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

from scripts.paths import ROOT

GPU_DIR = ROOT / ".gpu"  # ignored through .git/info/exclude: what travels to the device in parts
PART_BYTES = 56 * 1024 * 1024  # under the device call's 64 MiB with the working tree beside it
CTRANSLATE2_WHEEL = "ctranslate2==4.8.5"  # the version this project pins
DEVICE_PYTHON = "3.12"  # the GPU image's python3
RATE = 16000
WINDOW_SEC = 30.0
LONG_CLIP = "snakers4__silero-vad/en.wav"  # 60 s: the window loop past the first 30 s
BATCHES = (1, 8, 32)
SEQUENTIAL = 8  # windows also decoded one after another, for batched / one by one
ATTENTION_WINDOWS = 11  # a batch size no other section decodes: new shapes for cuDNN's attention
RESULTS_JSON = ROOT / "benchmarks" / "results" / "gpu.json"


def _corpora() -> dict[str, list[Any]]:
    from tests.handlers.test_openai_engine import ENGLISH, RUSSIAN

    return {"en": ENGLISH, "ru": RUSSIAN}


def _windows() -> list[Any]:
    from tests.conftest import manifest

    return [c for c in manifest() if "pyannote" in str(c.path) and c.duration == WINDOW_SEC]


# prepare (here) -----------------------------------------------------------------------------
def prepare() -> None:
    from scripts.paths import WHISPER_WEIGHTS
    from wire.audio import read_audio_file

    stage = GPU_DIR / "bundle"
    shutil.rmtree(GPU_DIR, ignore_errors=True)
    (stage / "weights").mkdir(parents=True)
    (stage / "site").mkdir()
    shutil.copy(WHISPER_WEIGHTS / "openai-whisper.pt", stage / "weights")
    shutil.copy(WHISPER_WEIGHTS / "vocabulary.txt", stage / "weights")
    shutil.copy(WHISPER_WEIGHTS / "tokenizer.json", stage / "weights")
    import faster_whisper
    import more_itertools
    import whisper

    for module in (whisper, more_itertools, faster_whisper):
        package = Path(module.__file__).parent  # type: ignore[arg-type]
        shutil.copytree(package, stage / "site" / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            DEVICE_PYTHON,
            "--implementation",
            "cp",
            "--platform",
            "manylinux_2_28_x86_64",
            "-d",
            str(stage / "wheels"),
            CTRANSLATE2_WHEEL,
        ],
        check=True,
    )
    # Decoded here with the service's own decoder: the device has no PyAV, and both sides must
    # hear the same samples. PCM16, as the gateway sends audio to the handlers.
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"corpora": {}, "windows": []}
    for language, corpus in _corpora().items():
        meta["corpora"][language] = []
        for i, clip in enumerate(corpus):
            key = f"{language}{i}"
            arrays[key] = _pcm16(read_audio_file(clip.path, RATE).samples)
            meta["corpora"][language].append({"key": key, "file": str(clip.path.name), "reference": clip.transcript})
    for i, clip in enumerate(_windows()):
        key = f"w{i}"
        arrays[key] = _pcm16(read_audio_file(clip.path, RATE).samples[: int(WINDOW_SEC * RATE)])
        meta["windows"].append({"key": key, "file": clip.path.name})
    from tests.conftest import DATA_DIR

    arrays["long0"] = _pcm16(read_audio_file(DATA_DIR / LONG_CLIP, RATE).samples)
    meta["long"] = [{"key": "long0", "file": LONG_CLIP}]
    np.savez(stage / "clips.npz", **arrays)  # type: ignore[arg-type]
    (stage / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    tar_path = GPU_DIR / "bundle.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(stage, arcname="bundle")
    shutil.rmtree(stage)
    with tar_path.open("rb") as src:
        part = 0
        while chunk := src.read(PART_BYTES):
            folder = GPU_DIR / f"p{part}"
            folder.mkdir()
            (folder / f"bundle.tar.{part:02d}").write_bytes(chunk)
            part += 1
    tar_path.unlink()
    print(f"{part} parts in {GPU_DIR}: carry .gpu/p0 ... .gpu/p{part - 1}, one per call")


def _pcm16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


# run (on the GPU machine) ---------------------------------------------------------------------
def run(bundle: Path, out: Path) -> None:
    report: dict[str, Any] = {"python": platform.python_version()}
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (out / "gpu.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")

    if "av" not in sys.modules:  # nothing here decodes: clips come decoded; wire.audio only names PyAV
        try:
            import av  # noqa: F401
        except ImportError:
            sys.modules["av"] = types.ModuleType("av")
    # GPU_CHECK_SKIP=ctranslate2,faster_whisper_fallback,profile: a rerun on a short lease measures the engine alone
    skip = set(os.environ.get("GPU_CHECK_SKIP", "").split(","))
    for name, section in (
        ("ctranslate2", lambda: _ctranslate2_on_cuda(bundle)),
        ("faster_whisper_fallback", lambda: _faster_whisper_fallback(bundle)),
        ("engine", lambda: _engine_sections(bundle, report, save, "profile" not in skip)),
    ):
        if name in skip:
            continue
        started = time.perf_counter()
        try:
            result = section()
            if result is not None:
                report[name] = result
        except Exception as exc:  # noqa: BLE001 - a diagnostic: say what broke, go on to the next section
            report[f"{name}_error"] = f"{type(exc).__name__}: {exc}"[:2000]
        report[f"{name}_sec"] = round(time.perf_counter() - started, 1)
        save()
        print(json.dumps({k: v for k, v in report.items() if k != "transcripts"}, ensure_ascii=False)[:3000])


def _ctranslate2_on_cuda(bundle: Path) -> dict[str, Any]:
    import ctypes

    import ctranslate2

    found: dict[str, Any] = {"version": ctranslate2.__version__}
    for lib in ("libcudart.so.12", "libcublas.so.12", "libcudnn.so.9", "libcublas.so.13"):
        try:
            ctypes.CDLL(lib)
            found[lib] = "loads"
        except OSError as exc:
            found[lib] = str(exc)[:200]
    for what, call in (
        ("cuda_device_count", ctranslate2.get_cuda_device_count),
        ("cuda_compute_types", lambda: sorted(ctranslate2.get_supported_compute_types("cuda"))),
    ):
        try:
            found[what] = call()
        except Exception as exc:  # noqa: BLE001 - what the wheel says is the finding
            found[what] = f"{type(exc).__name__}: {exc}"[:300]
    try:  # one encode on the GPU: this is where cuBLAS is loaded
        model_dir = _tiny_ct2_whisper(bundle / "weights" / "vocabulary.txt", Path("/tmp/tiny-ct2-whisper"))
        model = ctranslate2.models.Whisper(str(model_dir), device="cuda", compute_type="float16")
        features = np.random.default_rng(0).standard_normal((1, 80, 3000)).astype(np.float32)
        encoded = model.encode(ctranslate2.StorageView.from_array(features))
        found["tiny_model_encode_on_cuda"] = f"ok, output {list(encoded.shape)}"
    except Exception as exc:  # noqa: BLE001 - what the wheel says is the finding
        found["tiny_model_encode_on_cuda"] = f"{type(exc).__name__}: {exc}"[:500]
    return found


def _tiny_ct2_whisper(vocabulary: Path, target: Path, width: int = 64, mels: int = 80) -> Path:
    """A CTranslate2 Whisper model with one layer each way and random weights: enough to run its kernels."""
    from ctranslate2.specs import whisper_spec

    rng = np.random.default_rng(0)
    spec = whisper_spec.WhisperSpec(1, 2, 1, 2)
    tokens = vocabulary.read_text(encoding="utf-8").splitlines()

    def shape(name: str) -> tuple[int, ...]:
        if name.endswith(("gamma", "beta")):
            return (width,)
        if "conv1/weight" in name:
            return (width, mels, 3)
        if "conv2/weight" in name:
            return (width, width, 3)
        if "encoder/position_encodings" in name:
            return (1500, width)
        if "decoder/position_encodings" in name:
            return (448, width)
        if "embeddings/weight" in name or "projection/weight" in name:
            return (len(tokens), width)
        rows = width
        if "self_attention/linear_0" in name:
            rows = 3 * width
        elif "/attention/linear_1" in name or "ffn/linear_0" in name:
            rows = 2 * width
        if name.endswith("bias"):
            return (rows,)
        return (rows, 2 * width if "ffn/linear_1" in name else width)

    def fill(spec_obj: Any, name: str, value: Any) -> None:
        attr = name.rsplit("/", 1)[-1]
        wanted = value is None or (
            isinstance(value, str) and value == "__optional" and (attr == "bias" or "position_encodings" in name)
        )
        if wanted:
            setattr(spec_obj, attr, (rng.standard_normal(shape(name)) * 0.05).astype(np.float32))

    spec._visit(fill)
    spec.register_vocabulary(tokens)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    spec.validate()
    spec.save(str(target))
    return target


def _faster_whisper_fallback(bundle: Path) -> dict[str, Any]:
    """The whisper handler's engine with device auto, then cuda, on a model CTranslate2 may not run there."""
    import logging

    from handlers.whisper.asr import WhisperASR, WhisperConfig
    from wire.options import DecodeOptions

    tiny = _tiny_ct2_whisper(bundle / "weights" / "vocabulary.txt", Path("/tmp/tiny-ct2-fallback"))
    shutil.copy(bundle / "weights" / "tokenizer.json", tiny)
    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage()[:300])

    logging.getLogger("handlers.whisper.asr").addHandler(Keep(logging.WARNING))
    asr = WhisperASR(WhisperConfig(model_path=str(tiny), beam_size=1))
    found: dict[str, Any] = {"auto": f"{asr.device}/{asr.compute_type}", "warnings": warnings}
    silence = np.zeros(RATE * 2, dtype=np.float32)
    asr.transcribe(silence, DecodeOptions(language="en", beam_size=1, max_new_tokens=4))
    found["auto_transcribes"] = True
    try:
        WhisperASR(WhisperConfig(model_path=str(tiny), device="cuda"))
        found["cuda"] = "started"
    except RuntimeError as exc:
        found["cuda"] = f"refused: {exc}"[:400]
    return found


def _engine_sections(bundle: Path, report: dict[str, Any], save: Any, profiled: bool) -> None:
    """Each part is saved as soon as it is done: a lease that ends early keeps what was measured."""
    import torch

    from handlers.whisper.asr import WhisperConfig
    from handlers.whisper.openai_engine import OpenAIWhisperASR
    from wire.options import DecodeOptions

    # GPU_CHECK_DRY=1: the same steps on this CPU with small batches, to try the script before a lease
    dry = os.environ.get("GPU_CHECK_DRY") == "1"
    batches, sequential, per_corpus = ((1, 2), 2, 3) if dry else (BATCHES, SEQUENTIAL, None)

    def sync() -> None:
        if not dry:
            torch.cuda.synchronize()

    begun = time.perf_counter()

    def done(what: str) -> None:
        save()
        print(f"{time.perf_counter() - begun:.1f} s: {what}", flush=True)

    def gib(value: int) -> float:
        return round(value / 2**30, 3)

    if not dry:
        props = torch.cuda.get_device_properties(0)
        report["device"] = {
            "name": props.name,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
        }
    started = time.perf_counter()
    engine = OpenAIWhisperASR(
        WhisperConfig(engine="openai-whisper", model_path=str(bundle / "weights"), device="cpu" if dry else "cuda")
    )
    sync()
    report["engine"] = {
        "load_sec": round(time.perf_counter() - started, 2),
        "compute_type": engine.compute_type,
        "weights_gib": 0.0 if dry else gib(torch.cuda.memory_allocated()),
        "fallback_at_once": engine.fallback_at_once,  # the setting's auto, for the sections before throughput
    }
    clips = np.load(bundle / "clips.npz")
    meta = json.loads((bundle / "meta.json").read_text(encoding="utf-8"))

    def audio(key: str) -> np.ndarray:
        return clips[key].astype(np.float32) / 32768.0

    windows = [audio(w["key"]) for w in meta["windows"]]
    options = DecodeOptions(language="en", beam_size=5)

    def timed(batch: list[np.ndarray], opts: DecodeOptions = options) -> tuple[float, list[Any]]:
        sync()
        t0 = time.perf_counter()
        results = engine.transcribe_many([(a, opts) for a in batch])
        sync()
        return time.perf_counter() - t0, results

    decodes: list[int] = []  # the rows of each batched decode, to see the rounds behind a figure
    real_decode = engine.decode

    def counted(mels: Any, *args: Any) -> Any:
        decodes.append(int(mels.shape[0]))
        return real_decode(mels, *args)

    engine.decode = counted  # type: ignore[method-assign,assignment]
    steps = [0]  # decoding steps (decoder passes), all decodes together
    real_step = engine.model.decoder.forward

    def stepped(*args: Any, **kwargs: Any) -> Any:
        steps[0] += 1
        return real_step(*args, **kwargs)

    engine.model.decoder.forward = stepped
    timed(windows[:2])  # CUDA context, kernels, allocator: not part of any figure
    transcripts: dict[str, Any] = {}
    corpora = {language: corpus[:per_corpus] for language, corpus in meta["corpora"].items()}
    for language, corpus in corpora.items():
        seconds, results = timed([audio(c["key"]) for c in corpus], DecodeOptions(language=language))
        transcripts[language] = {
            "sec": round(seconds, 3),
            "texts": _texts(results),
        }
    seconds, worded = timed(
        [audio(c["key"]) for c in corpora["en"]], DecodeOptions(language="en", word_timestamps=True)
    )
    transcripts["en_words"] = {
        "sec": round(seconds, 3),
        "texts": _texts(worded),
        "words": [
            [[w.word, w.start, w.end] for s in r.segments for w in (s.words or [])]
            for r in worded
            if not isinstance(r, Exception)
        ][:3],
    }
    report["transcripts"] = transcripts
    done("transcripts")
    if "long" in meta:  # bundles prepared before the section have no long clip
        report["features"] = _features(engine, audio, meta, sync)
        done("features")
    default_at_once = engine.fallback_at_once
    engine.fallback_at_once = False  # throughput and sequential: one rung per decode; at once follows

    def batch_row(n: int) -> dict[str, Any]:
        """``n`` windows as one batch: the median of a few runs (sampled rungs differ from run to run)."""
        batch = [windows[i % len(windows)] for i in range(n)]
        if not dry:
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(3 if n < 32 else 2):
            decodes.clear()
            steps[0] = 0
            seconds, results = timed(batch)
            times.append(seconds)
        median = statistics.median(times)
        return {
            "windows": n,
            "sec": round(median, 3),
            "audio_sec_per_sec": round(n * WINDOW_SEC / median, 1),
            "peak_gib": 0.0 if dry else gib(torch.cuda.max_memory_allocated()),
            "failed": [str(r) for r in results if isinstance(r, Exception)][:3],
            "words": sum(len(r.text.split()) for r in results if not isinstance(r, Exception)),
            "decodes": len(decodes),
            "decode_steps": steps[0],
            "decode_rows": decodes[:40],
        }

    rows = []
    for n in batches:
        rows.append(batch_row(n))
        report["throughput"] = rows
        done(f"batch of {n}")

    def one_after_another() -> dict[str, Any]:
        batch = [windows[i % len(windows)] for i in range(sequential)]
        one_by_one = []
        for _ in range(2):
            t0 = time.perf_counter()
            for window in batch:
                timed([window])
            one_by_one.append(time.perf_counter() - t0)
        return {
            "windows": sequential,
            "sec": round(min(one_by_one), 3),
            "audio_sec_per_sec": round(sequential * WINDOW_SEC / min(one_by_one), 1),
        }

    report["sequential"] = one_after_another()
    done("one after another")
    # the fallback ladder's rungs in one decode (fallback_at_once): the same batches, for the ratio
    engine.fallback_at_once = True
    at_once = []
    for n in batches[1:]:
        at_once.append(batch_row(n))
        report["throughput_fallback_at_once"] = at_once
        done(f"batch of {n}, fallback at once")
    report["sequential_fallback_at_once"] = one_after_another()
    done("one after another, fallback at once")
    # what stopping a window's rungs after the one kept saves (BatchedTask._settle): every rung to its end
    engine.settle_rungs = False
    report["fallback_at_once_every_rung"] = batch_row(max(batches))
    engine.settle_rungs = True
    done(f"batch of {max(batches)}, fallback at once, every rung to its end")
    engine.fallback_at_once = default_at_once
    report["attention"] = _attention_kernels(engine, windows[: 2 if dry else len(windows)], timed, 2 if dry else None)
    done("attention kernels")
    if not profiled:
        return
    # the first windows' one batched decode: the whole window loop under the profiler records millions of
    # kernel events (the first H100 try this session spent its last 400 s there and saved nothing)
    from whisper.decoding import DecodingOptions

    from handlers.whisper.openai_windows import window_features

    largest = [windows[i % len(windows)] for i in range(max(batches))]
    mels = torch.stack([window_features(engine._features(w), 0) for w in largest])
    first = DecodingOptions(language="en", beam_size=5, fp16=engine.fp16)
    try:
        report["profile"] = _profile(lambda: real_decode(mels, first), dry)
    except Exception as exc:  # noqa: BLE001 - a diagnostic: the figures above stand without it
        report["profile_error"] = f"{type(exc).__name__}: {exc}"[:2000]


FEATURE_CLIPS = ("en0", "ru0")  # the first English and Russian parity clips


def feature_jobs(audio: Any, meta: dict[str, Any]) -> dict[str, list[tuple[np.ndarray, Any]]]:
    """The decodes of the ``features`` section, one engine call each; ``report`` runs the same ones on this CPU."""
    from wire.options import DecodeOptions

    en, ru = (audio(key) for key in FEATURE_CLIPS)
    return {
        "long": [(audio(meta["long"][0]["key"]), DecodeOptions(language="en"))],
        "mixed_languages": [(en, DecodeOptions(language="en")), (ru, DecodeOptions(language="ru"))],
        "detect": [(en, DecodeOptions()), (ru, DecodeOptions())],
        "translate": [(ru, DecodeOptions(language="ru", task="translate"))],
        "sampled": [
            (en, DecodeOptions(language="en", temperature=0.5)),
            (ru, DecodeOptions(language="ru", temperature=0.5)),
        ],
    }


def _texts(results: list[Any]) -> list[str]:
    """Each result's text, or its error."""
    return [r.text if not isinstance(r, Exception) else f"ERROR {r}" for r in results]


def _attention_kernels(engine: Any, windows: list[np.ndarray], timed: Any, size: int | None) -> dict[str, Any]:
    """The same batch with PyTorch's flash/memory-efficient attention, then with cuDNN's, each decoded
    twice: cuDNN builds a kernel graph per new shape (none is cached yet: the sections before ran
    without it), so its first pass shows that cost and its second the warm speed."""
    import torch

    batch = [windows[i % len(windows)] for i in range(size or ATTENTION_WINDOWS)]
    found: dict[str, Any] = {}
    for name, cudnn in (("flash", False), ("cudnn", True)):
        torch.backends.cuda.enable_cudnn_sdp(cudnn)
        first, results = timed(batch)
        second, _ = timed(batch)
        found[name] = {
            "windows": len(batch),
            "first_sec": round(first, 3),
            "second_sec": round(second, 3),
            "texts": _texts(results),
            "sampled": [isinstance(r, Exception) or any(s.temperature > 0 for s in r.segments) for r in results],
        }
    torch.backends.cuda.enable_cudnn_sdp(engine.config.cudnn_attention)
    unsampled = [i for i in range(len(batch)) if not (found["flash"]["sampled"][i] or found["cudnn"]["sampled"][i])]
    found["same_unsampled_texts"] = all(found["flash"]["texts"][i] == found["cudnn"]["texts"][i] for i in unsampled)
    found["unsampled"] = len(unsampled)
    return found


def _features(engine: Any, audio: Any, meta: dict[str, Any], sync: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, jobs in feature_jobs(audio, meta).items():
        sync()
        t0 = time.perf_counter()
        try:
            results = engine.transcribe_many(jobs)
        except Exception as exc:  # noqa: BLE001 - a diagnostic: the other decodes still run
            found[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            continue
        sync()
        found[name] = {
            "sec": round(time.perf_counter() - t0, 3),
            "texts": _texts(results),
            "languages": [None if isinstance(r, Exception) else r.language for r in results],
            "last_end": [None if isinstance(r, Exception) or not r.segments else r.segments[-1].end for r in results],
            # above 0: a fallback rung was sampled, and the text differs from a CPU's by chance
            "temperatures": [[] if isinstance(r, Exception) else [s.temperature for s in r.segments] for r in results],
        }
    return found


def _profile(decode: Any, dry: bool) -> dict[str, Any]:
    """Where the time of one decode of the largest batch goes: the GPU's busy time against the wall, the
    kernel launches, the decoding steps and the host time of their timestamp rules, and the top
    operators by host and by device time."""
    from torch.profiler import ProfilerActivity, profile

    from handlers.whisper import openai_decoding

    spent = {"timestamp_rules": 0.0, "steps": 0}
    real_rules = openai_decoding.timestamp_rules

    def timed_rules(*args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        real_rules(*args, **kwargs)
        spent["timestamp_rules"] += time.perf_counter() - t0
        spent["steps"] += 1

    openai_decoding.timestamp_rules = timed_rules
    try:
        t0 = time.perf_counter()
        decode()
        plain = time.perf_counter() - t0
    finally:
        openai_decoding.timestamp_rules = real_rules
    activities = [ProfilerActivity.CPU] + ([] if dry else [ProfilerActivity.CUDA])
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        decode()
        wall = time.perf_counter() - t0
    events = prof.key_averages()

    def device(e: Any) -> float:
        return float(getattr(e, "self_device_time_total", 0.0) or 0.0)

    launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"))
    top_host = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:15]
    top_device = sorted(events, key=device, reverse=True)[:10]
    return {
        "wall_sec": round(plain, 3),
        "wall_profiled_sec": round(wall, 3),
        "device_busy_sec": round(sum(device(e) for e in events) / 1e6, 3),
        "kernel_launches": launches,
        "decode_steps": spent["steps"],
        "timestamp_rules_sec": round(spent["timestamp_rules"], 3),
        "top_host_ms": [[e.key[:60], e.count, round(e.self_cpu_time_total / 1e3, 1)] for e in top_host],
        "top_device_ms": [[e.key[:60], e.count, round(device(e) / 1e3, 1)] for e in top_device],
    }


# report (here) -----------------------------------------------------------------------------------
def report(gpu_json: Path, before_json: Path | None = None, repeat_json: Path | None = None) -> None:
    """WER here against the references and against this CPU's own float32 decode; RESULTS.md's GPU section.

    ``before_json``: a run of the same script with stock openai-whisper's decoding loop, for the ratio;
    ``repeat_json``: the same code run again on another lease, to show how much the figures move.
    """
    from benchmarks.report import replace_gpu_section
    from eval.textnorm import wer
    from handlers.whisper.asr import WhisperConfig
    from handlers.whisper.openai_engine import OpenAIWhisperASR
    from scripts.machine import describe
    from scripts.paths import WHISPER_WEIGHTS
    from wire.audio import read_audio_file
    from wire.options import DecodeOptions

    gpu = json.loads(gpu_json.read_text(encoding="utf-8"))
    cpu = OpenAIWhisperASR(WhisperConfig(engine="openai-whisper", model_path=str(WHISPER_WEIGHTS), device="cpu"))
    quality: dict[str, Any] = {}
    for language, corpus in _corpora().items():
        jobs = [(read_audio_file(c.path, RATE).samples, DecodeOptions(language=language)) for c in corpus]
        cpu_texts = [r.text for r in cpu.transcribe_many(jobs)]  # type: ignore[union-attr]
        gpu_texts = gpu["transcripts"][language]["texts"]
        refs = [c.transcript for c in corpus]
        quality[language] = {
            "clips": len(corpus),
            "wer_gpu": round(wer(refs, gpu_texts, language), 4),
            "wer_cpu": round(wer(refs, cpu_texts, language), 4),
            "gpu_vs_cpu": round(wer(cpu_texts, gpu_texts, language), 4),
            "identical_texts": sum(a == b for a, b in zip(cpu_texts, gpu_texts, strict=True)),
        }
    words = gpu["transcripts"].get("en_words", {})
    quality["en_word_timestamps_same_text"] = words.get("texts") == gpu["transcripts"]["en"]["texts"]
    result: dict[str, Any] = {"gpu": gpu, "quality": quality, "cpu_here": describe()}
    if before_json is not None:
        before = json.loads(before_json.read_text(encoding="utf-8"))
        result["stock_loop"] = {k: before.get(k) for k in ("throughput", "sequential")}
        texts = {k: v["texts"] for k, v in gpu["transcripts"].items()}
        result["stock_loop"]["same_texts"] = {k: v["texts"] for k, v in before["transcripts"].items()} == texts
    if repeat_json is not None:
        repeat = json.loads(repeat_json.read_text(encoding="utf-8"))
        result["repeat"] = {k: repeat.get(k) for k in ("throughput", "sequential")}
    RESULTS_JSON.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    replace_gpu_section(result)
    print(json.dumps(quality, indent=1))


def add_card(gpu_json: Path) -> None:
    """Add a run on another GPU model to the committed result (its throughput beside the first card's,
    its transcripts compared with the first card's, and its profile); RESULTS.md's GPU section again."""
    from benchmarks.report import replace_gpu_section

    result = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
    card = json.loads(gpu_json.read_text(encoding="utf-8"))
    texts = {k: v["texts"] for k, v in card["transcripts"].items()}
    first = {k: v["texts"] for k, v in result["gpu"]["transcripts"].items()}
    result["other_card"] = {
        **{k: card.get(k) for k in ("device", "python", "throughput", "sequential", "profile")},
        "same_texts_as_first_card": texts == first,
    }
    RESULTS_JSON.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    replace_gpu_section(result)


def add_rerun(gpu_json: Path, cpu_json: Path, commit: str, note: str = "") -> None:
    """Add a later run of the engine section (the code at ``commit``) to the committed result, after
    the earlier reruns: its throughput beside the first run's, the parity corpora's WER against the
    references, and the ``features`` texts against the same section run on this CPU (``GPU_CHECK_DRY=1``)."""
    from benchmarks.report import replace_gpu_section
    from eval.textnorm import wer

    result = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
    run_there = json.loads(gpu_json.read_text(encoding="utf-8"))
    here = json.loads(cpu_json.read_text(encoding="utf-8")).get("features", {})
    refs = {language: [c.transcript for c in corpus] for language, corpus in _corpora().items()}
    measured = (
        "device",
        "python",
        "engine",
        "throughput",
        "sequential",
        "throughput_fallback_at_once",
        "sequential_fallback_at_once",
        "fallback_at_once_every_rung",
        "attention",
    )
    rerun = {
        "commit": commit,
        "note": note,
        **{k: run_there[k] for k in measured if k in run_there},
        "wer": {
            language: round(wer(refs[language], run_there["transcripts"][language]["texts"], language), 4)
            for language in refs
        },
        "seconds": {k: v["sec"] for k, v in run_there["transcripts"].items()},
        "features": {
            name: {
                "sec": found.get("sec"),
                "same_as_cpu": found.get("texts") == here.get(name, {}).get("texts"),
                "languages": found.get("languages"),
                # a fallback rung was sampled there (runs before d6a187d do not say)
                "sampled": any(t > 0 for ts in found["temperatures"] for t in ts) if "temperatures" in found else None,
            }
            for name, found in run_there.get("features", {}).items()
        },
    }
    if profile := run_there.get("profile"):
        rerun["profile"] = {k: profile[k] for k in ("wall_sec", "device_busy_sec", "kernel_launches", "decode_steps")}
    earlier = result.pop("rerun", None)  # the one rerun an older layout kept
    result["reruns"] = [*([earlier] if earlier else []), *result.get("reruns", []), rerun]
    RESULTS_JSON.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    replace_gpu_section(result)


def main() -> None:
    step = sys.argv[1] if len(sys.argv) > 1 else ""
    if step == "prepare":
        prepare()
    elif step == "run" and len(sys.argv) == 4:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        run(Path(sys.argv[2]), Path(sys.argv[3]))
    elif step == "report" and len(sys.argv) in (3, 4, 5):
        optional = [Path(a) for a in sys.argv[3:]]
        report(Path(sys.argv[2]), *optional)
    elif step == "add-card" and len(sys.argv) == 3:
        add_card(Path(sys.argv[2]))
    elif step == "add-rerun" and len(sys.argv) in (5, 6):
        add_rerun(Path(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
