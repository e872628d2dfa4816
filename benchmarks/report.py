"""benchmarks/RESULTS.md from a run's result dict (the same figures as results/bench.json)."""

from __future__ import annotations

import json

from scripts.paths import ROOT

__all__ = ["JOBS_MARK", "gpu_section", "jobs_section", "replace_gpu_section", "write_markdown"]

JOBS_MARK = "<!-- jobs: python -m benchmarks.jobs rewrites from here to the end -->"
GPU_BEGIN = "<!-- gpu: python -m scripts.gpu_check report rewrites this section -->"
GPU_END = "<!-- /gpu -->"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
GPU_JSON = ROOT / "benchmarks" / "results" / "gpu.json"


def gpu_section(result: dict) -> list[str]:  # type: ignore[type-arg]
    """The PyTorch engine on a GPU machine (scripts/gpu_check.py): it cannot be rerun by ``make bench``."""
    gpu = result["gpu"]
    device, ct2, quality = gpu["device"], gpu["ctranslate2"], result["quality"]
    stock = {row["windows"]: row for row in (result.get("stock_loop") or {}).get("throughput") or []}
    repeat = {row["windows"]: row for row in (result.get("repeat") or {}).get("throughput") or []}
    sequential = gpu["sequential"]
    card = result.get("other_card") or {}
    on_card = {row["windows"]: row for row in card.get("throughput") or []}
    card_name = (card.get("device") or {}).get("name", "another card")

    def other(rows: dict, n: int) -> object:  # type: ignore[type-arg]
        return rows.get(n, {}).get("audio_sec_per_sec", "-")

    lines = [
        GPU_BEGIN,
        f"## engine: openai-whisper on {device['name']} (measured on the GPU machine lent to this task; CI has none)",
        "",
        f"`python -m scripts.gpu_check` on one {device['name']} ({device['memory_gib']} GiB), torch {device['torch']}"
        f" (CUDA {device['cuda']}), Python {gpu['python']}; Whisper base float16, beam 5, language given. Windows: real"
        " 30 s AMI meeting excerpts as one batched decode; time is the median of repeated runs after a warm-up.",
        "",
        "| windows in the batch | seconds | audio s/s | peak GPU memory GiB | same code, another lease: audio s/s |"
        f" stock decoding loop: audio s/s | {card_name}: audio s/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {row['windows']} | {row['sec']} | **{row['audio_sec_per_sec']}** | {row['peak_gib']} | "
            f"{other(repeat, row['windows'])} | {other(stock, row['windows'])} | {other(on_card, row['windows'])} |"
            for row in gpu["throughput"]
        ),
        f"| {sequential['windows']}, one after another | {sequential['sec']} | {sequential['audio_sec_per_sec']} | - | "
        f"{((result.get('repeat') or {}).get('sequential') or {}).get('audio_sec_per_sec', '-')} | "
        f"{((result.get('stock_loop') or {}).get('sequential') or {}).get('audio_sec_per_sec', '-')} | "
        f"{(card.get('sequential') or {}).get('audio_sec_per_sec', '-')} |",
        "",
        *_card_lines(card, card_name),
        *_rerun_lines(result),
        f"Weights on the GPU: {gpu['engine']['weights_gib']} GiB. 'Stock decoding loop': the same script with"
        " openai-whisper's own beam search and timestamp rules (per-row Python with a device sync per candidate);"
        " handlers/whisper/openai_decoding.py does the same arithmetic on whole tensors"
        + (" and gave the same transcripts." if (result.get("stock_loop") or {}).get("same_texts") else "."),
        "",
        "| corpus (the API parity clips) | clips | WER GPU float16 | WER CPU float32 (this machine) | GPU vs CPU |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {lang} | {q['clips']} | {q['wer_gpu']:.2%} | {q['wer_cpu']:.2%} | {q['gpu_vs_cpu']:.2%} "
            f"({q['identical_texts']} of {q['clips']} texts identical) |"
            for lang, q in quality.items()
            if isinstance(q, dict)
        ),
        "",
        f"Word timestamps on CUDA (cross-attention alignment) left the English texts "
        f"{'unchanged' if quality.get('en_word_timestamps_same_text') else 'CHANGED'}.",
        "",
        f"CTranslate2 {ct2['version']} (the PyPI wheel) on that machine: it counts {ct2['cuda_device_count']} GPU and"
        f" lists {', '.join(ct2['cuda_compute_types'])}, but running a model fails: "
        f"`{ct2['tiny_model_encode_on_cuda']}`. The machine has CUDA 13 only "
        f"(libcublas.so.13: {ct2['libcublas.so.13']}; libcublas.so.12: not found), so `engine: faster-whisper` with"
        " `device: auto` falls back to the CPU there (with a warning; `device: cuda` refuses to start) and"
        " `engine: openai-whisper` is the GPU engine.",
        "",
        *(
            [
                f"The whisper handler's faster-whisper engine there, on a CTranslate2 model: `device: auto` gave "
                f'`{fb["auto"]}` with the warning "{fb["warnings"][0] if fb["warnings"] else "none"}"; `device: cuda` was '
                f"{fb['cuda']}.",
                "",
            ]
            if (fb := gpu.get("faster_whisper_fallback"))
            else []
        ),
        GPU_END,
        "",
    ]
    return lines


def _rerun_lines(result: dict) -> list[str]:  # type: ignore[type-arg]
    """Each later commit's engine on a GPU, oldest first: its throughput against the first run on the same
    card model, and whether its other paths gave this CPU's texts."""
    return [line for rerun in result.get("reruns", []) for line in _one_rerun(result, rerun)]


def _one_rerun(result: dict, rerun: dict) -> list[str]:  # type: ignore[type-arg]
    device = rerun["device"]["name"]
    card = result.get("other_card") or {}
    earlier = card if (card.get("device") or {}).get("name") == device else result["gpu"]
    before = {row["windows"]: row for row in earlier["throughput"]}
    at_once = {row["windows"]: row for row in rerun.get("throughput_fallback_at_once", [])}

    def decodes(row: dict | None) -> str:  # type: ignore[type-arg]
        return "-" if not row or "decodes" not in row else str(row["decodes"])

    def rate(row: dict | None) -> str:  # type: ignore[type-arg]
        return "-" if not row else str(row["audio_sec_per_sec"])

    rows = [
        f"| {row['windows']} | {row['sec']} | **{row['audio_sec_per_sec']}** | {decodes(row)} | "
        f"{rate(at_once.get(row['windows']))} | {decodes(at_once.get(row['windows']))} | {row['peak_gib']} | "
        f"{rate(before.get(row['windows']))} |"
        for row in rerun["throughput"]
    ]
    sequential = rerun["sequential"]
    same = [name for name, f in rerun["features"].items() if f["same_as_cpu"]]
    differ = [
        name + (" (a fallback rung sampled)" if f.get("sampled") and name != "sampled" else "")
        for name, f in rerun["features"].items()
        if not f["same_as_cpu"]
    ]
    profile = rerun.get("profile")
    engine = rerun.get("engine") or {}
    return [
        f"### The engine at commit {rerun['commit']} on {device}",
        "",
        "| windows in the batch | seconds | audio s/s | decodes | with `fallback_at_once`: audio s/s | decodes |"
        f" peak GPU memory GiB | first run on {earlier['device']['name']}: audio s/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        f"| {sequential['windows']}, one after another | {sequential['sec']} | {sequential['audio_sec_per_sec']} | - | "
        f"{rate(rerun.get('sequential_fallback_at_once'))} | - | - | {earlier['sequential']['audio_sec_per_sec']} |",
        "",
        f"Parity corpora there: WER en {rerun['wer']['en']:.2%}, ru {rerun['wer']['ru']:.2%} against the references."
        f" Paths beyond one-language batches gave this CPU's texts word for word: {', '.join(same) or 'none'}"
        + (f"; not the same: {', '.join(differ)}" if differ else "")
        + (" (sampling draws at random)." if all("sampled" in d for d in differ) and differ else ".")
        + (f" Weights on the GPU: {engine['weights_gib']} GiB." if "weights_gib" in engine else "")
        + (
            f" The largest batch's first windows as one decode: {profile['decode_steps']} steps,"
            f" {profile['kernel_launches']} kernel launches, {profile['wall_sec']} s wall for"
            f" {profile['device_busy_sec']} s of GPU work."
            if profile
            else ""
        ),
        "",
        *_every_rung_lines(at_once, rerun.get("fallback_at_once_every_rung")),
        *_attention_lines(rerun.get("attention")),
        *([rerun["note"], ""] if rerun.get("note") else []),
    ]


def _every_rung_lines(at_once: dict, every: dict | None) -> list[str]:  # type: ignore[type-arg]
    """The largest ``fallback_at_once`` batch with and without stopping a window's rungs after the one kept."""
    settled = at_once.get(every["windows"]) if every else None
    if not every or not settled:
        return []
    return [
        f"`fallback_at_once`, {every['windows']} windows: {settled['audio_sec_per_sec']} audio s/s in"
        f" {settled.get('decode_steps', '-')} decoding steps with a window's rungs after the one kept stopped,"
        f" {every['audio_sec_per_sec']} in {every.get('decode_steps', '-')} with every rung run to its end.",
        "",
    ]


def _attention_lines(found: dict | None) -> list[str]:  # type: ignore[type-arg]
    """The same windows with PyTorch's flash attention and with cuDNN's, first pass and second."""
    if not found:
        return []
    flash, cudnn = found["flash"], found["cudnn"]
    same = "the same" if found["same_unsampled_texts"] else "NOT the same"
    return [
        f"Attention kernels, {flash['windows']} windows decoded twice: flash {flash['first_sec']} s then"
        f" {flash['second_sec']} s; cuDNN {cudnn['first_sec']} s then {cudnn['second_sec']} s (its first pass builds"
        f" a kernel graph per new shape). The {found['unsampled']} texts neither sampled were {same} with both.",
        "",
    ]


def _card_lines(card: dict, name: str) -> list[str]:  # type: ignore[type-arg]
    """What the run on another GPU model adds: whether its transcripts match, and where its time goes."""
    if not card:
        return []
    same = "word for word" if card.get("same_texts_as_first_card") else "NOT the same as"
    lines = [
        f"On the {name} (torch {card['device']['torch']}, CUDA {card['device']['cuda']}) the transcripts of the parity"
        f" corpora were {same} the first card's.",
        "",
    ]
    if prof := card.get("profile"):
        host = ", ".join(f"{key} {ms} ms ({count}x)" for key, count, ms in prof["top_host_ms"][:5])
        dev = ", ".join(f"{key} {ms} ms" for key, _, ms in prof["top_device_ms"][:3])
        lines += [
            f"Where the batch of {max(r['windows'] for r in card['throughput'])} windows spends its time there (one decode under"
            f" torch.profiler, {prof['wall_profiled_sec']} s profiled, {prof['wall_sec']} s without): the GPU is busy"
            f" {prof['device_busy_sec']} s of {prof['wall_sec']} s; {prof['decode_steps']} decoding steps (the batch runs until"
            f" its last window has its candidates), {prof['kernel_launches']} kernel launches (about"
            f" {prof['kernel_launches'] // max(prof['decode_steps'], 1)} per step); host time led by {host}; device time"
            f" led by {dev}."
            + (
                " The GPU idles more than a third of the wall time, waiting on the host's launches: CUDA graphs or a"
                " fused decoder step are where a larger batch would gain next."
                if prof["device_busy_sec"] < 0.67 * prof["wall_sec"]
                else ""
            ),
            "",
        ]
    return lines


def replace_gpu_section(result: dict) -> None:  # type: ignore[type-arg]
    """Put the GPU section into RESULTS.md in place (before the jobs section when it is new)."""
    text = RESULTS_MD.read_text(encoding="utf-8")
    section = "\n".join(gpu_section(result))
    if GPU_BEGIN in text:
        head, rest = text.split(GPU_BEGIN, 1)
        text = head + section + rest.split(GPU_END, 1)[1].lstrip("\n")
    elif JOBS_MARK in text:
        head, tail = text.split(JOBS_MARK, 1)
        text = head + section + "\n" + JOBS_MARK + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS_MD.write_text(text, encoding="utf-8")


def _gpu_section_from_file() -> list[str]:
    return gpu_section(json.loads(GPU_JSON.read_text(encoding="utf-8"))) if GPU_JSON.exists() else []


def jobs_section(row: dict) -> list[str]:  # type: ignore[type-arg]
    """A long recording as a job next to /audio/transcribe (benchmarks/jobs.py)."""
    m = row["machine"]
    return [
        JOBS_MARK,
        f"## A {row['audio_sec'] / 60:.0f}-minute recording as a job vs /audio/transcribe",
        "",
        f"Run {row['when']} (`python -m benchmarks.jobs --minutes {row['audio_sec'] / 60:.0f}`) on {m['cpu']}, "
        f"{m['cores']} cores; the shared English clips end to end, {row['pieces']} pieces; one path after the other.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| /audio/transcribe wall time | {row['sync_sec']} s |",
        f"| job wall time, submit to succeeded | {row['job_sec']} s |",
        f"| job ÷ synchronous | **{row['job_over_sync']}** (goal <= 1.05) |",
        f"| submit answered (202) after | {row['job_submit_sec']} s |",
        f"| progress moves seen (polled every 0.5 s) / pieces | {row['progress_updates_seen']} / {row['pieces']} |",
        f"| first segments visible after | {row['first_segment_sec']} s |",
        f"| median gap between progress moves | {row['median_progress_gap_sec']} s |",
        f"| one piece alone through /audio/transcribe | {row['one_piece_alone_sec']} s |",
        f"| first SSE `transcript.text.delta` (OpenAI route, stream=true, the whole hour uploaded) | "
        f"{row['first_sse_delta_sec']} s |",
        f"| gateway RSS idle / peak during sync / peak during job | {row['gateway_idle_rss_mib']} / "
        f"{row['gateway_peak_rss_sync_mib']} / {row['gateway_peak_rss_job_mib']} MiB |",
        f"| gateway anonymous memory (RSS less page cache) idle / sync / job | {row['gateway_idle_anon_mib']} / "
        f"{row['gateway_peak_anon_sync_mib']} / {row['gateway_peak_anon_job_mib']} MiB |",
        f"| WER of the job's text against the synchronous text | {row['job_vs_sync_text_wer']:.2%} |",
        "",
    ]


def _engines_section(result: dict) -> list[str]:  # type: ignore[type-arg]
    """faster-whisper (the main run) and openai-whisper (a stack of its own) through the same API."""
    rows = result.get("throughput_openai_whisper_engine")
    if not rows:
        return []
    return [
        "## Engines side by side (/audio/transcribe, same clips, same weights)",
        "",
        "| clients | faster-whisper audio s/s | p95 s | openai-whisper audio s/s | p95 s |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {a['concurrency']} | {a['audio_sec_per_sec']} | {a['latency_p95_sec']} | {b['audio_sec_per_sec']} | "
            f"{b['latency_p95_sec']} |"
            for a, b in zip(result["throughput"], rows, strict=False)
        ),
        "",
    ]


def write_markdown(result: dict) -> None:  # type: ignore[type-arg]
    m = result["machine"]
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        "## Transcription latency: service vs in-process",
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
        "## Enhancement real-time factor (processing seconds per audio second; lower is faster)",
        "",
        "| clip | rate | audio s | method | service RTF | in-process RTF |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
        *(
            f"| {r['clip']} | {r['rate']} | {r['audio_sec']} | {r['method']} | {r['service_rtf']} | {r['direct_rtf']} |"
            for r in result["enhance"]
        ),
        "",
        "## Speaker verification latency (probe 12.6 s)",
        "",
        f"- with a reference file (two embeddings): {result['verify']['verify_with_reference_median_sec']} s",
        f"- against an enrolled speaker (one embedding): {result['verify']['verify_enrolled_median_sec']} s",
        "",
        "## Live streams: Audio Core /ws/asr next to WhisperLive 0.10.0 (same weights, same excerpts, same client pacing)",
        "",
        f"N clients at once, each streaming its own {result['stream']['seconds']:g} s stretch of "
        f"`{result['stream']['clip']}` (stretches start {result['stream'].get('stagger_sec', 0):g} s apart, so no two "
        "streams send the same audio at the same moment) at real-time pace "
        "(PCM16, 100 ms frames). Word latency: for each word of the offline transcript, when the client's text first "
        "shows it minus when the client sent the end of that word's audio (the same measure for both protocols). "
        "'Shown' is the share of words that appeared before the stream ended; final WER is against the offline "
        "transcript of the stream's stretch. Each system ramps up until p95 passes 2 s. WhisperLive: faster_whisper backend, one shared "
        "model, its defaults (beam 5, VAD on); it runs after Audio Core's stack has stopped.",
        "",
        "| system | streams | word latency p50 s | p95 s | shown | final WER | updates per stream |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['system']} | {r['streams']} | {r['word_latency_p50_sec']} | {r['word_latency_p95_sec']} | "
            f"{r['words_shown_while_streaming']} | {r['final_wer_mean']} | {r['updates_per_stream']} |"
            for r in result["stream"]["audio_core"] + result["stream"]["whisper_live"]
        ),
        "",
        "Simultaneous real-time streams with p95 word latency <= 2 s on this machine: "
        f"**Audio Core {result['max_realtime_streams_p95_le_2s']['audio_core']}**, "
        f"WhisperLive {result['max_realtime_streams_p95_le_2s']['whisper_live']}.",
        "",
        "## Throughput (/audio/transcribe, 5 short clips sent back to back)",
        "",
        "Batching on: the whisper model as configured (batchSize 4, maxBatchDelay 20 ms); off: the same archive",
        "registered a second time with batchSize 1, behind a second gateway.",
        "",
        "| clients | requests | batching on: audio s/s | p50 s | p95 s | batching off: audio s/s | p50 s | p95 s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['concurrency']} | {r['requests']} | {r['audio_sec_per_sec']} | {r['latency_p50_sec']} | {r['latency_p95_sec']} | "
            + (f"{o['audio_sec_per_sec']} | {o['latency_p50_sec']} | {o['latency_p95_sec']} |" if o else "- | - | - |")
            for r, o in zip(
                result["throughput"],
                result["throughput_batch_size_1"] or [None] * len(result["throughput"]),
                strict=False,
            )
        ),
        "",
        *_pairs_line(result.get("batching_pairs_8_clients") or []),
        "![latency and throughput against concurrency](throughput.png)",
        "",
        "## Against faster-whisper-server 0.0.3 (OpenAI route, same weights, int8, same clips; run one after the other)",
        "",
        "| clients | Audio Core audio s/s | Audio Core p95 s | faster-whisper-server audio s/s | faster-whisper-server p95 s |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {a['concurrency']} | {a['audio_sec_per_sec']} | {a['latency_p95_sec']} | {b['audio_sec_per_sec']} | {b['latency_p95_sec']} |"
            for a, b in zip(
                result["openai_route"]["audio_core"], result["openai_route"]["faster_whisper_server"], strict=False
            )
        ),
        "",
        *_engines_section(result),
        "## Peak resident memory during the run (MiB)",
        "",
        *(f"- {name}: {mib}" for name, mib in result["peak_rss_mib"].items()),
        "",
        *_gpu_section_from_file(),
        *(jobs_section(result["jobs"]) if result.get("jobs") else []),
    ]
    RESULTS_MD.write_text("\n".join(lines))


def _pairs_line(pairs: list[dict[str, float]]) -> list[str]:
    """The on/off runs in turn at 8 clients, after the table: each pair's ratio and their median."""
    if not pairs:
        return []
    ratios = sorted(p["ratio"] for p in pairs)
    return [
        f"In turn at 8 clients (32 requests each, {len(pairs)} pairs, the same stack): batching on ÷ off "
        + " / ".join(f"{p['ratio']:.2f}" for p in pairs)
        + f" ({' / '.join(str(p['on']) for p in pairs)} against {' / '.join(str(p['off']) for p in pairs)} audio-s/s),"
        f" median **{ratios[len(ratios) // 2]:.2f}×**.",
        "",
    ]
