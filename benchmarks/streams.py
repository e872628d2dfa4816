"""Live streams, Audio Core's /ws/asr next to WhisperLive, measured the same way on both.

Both servers get the same excerpts as PCM16 mono 16 kHz in 100 ms frames at real-time
pace, from N clients at once. Stream i speaks its own stretch of the recording (excerpts
start STAGGER_SEC apart), as N different users would: N copies of one clip would hand the
server identical windows and prompts at the same moments, which batch perfectly and never
happen in use. The metric does not depend on either protocol:

- word latency: for every word of the reference (the offline transcript of the stream's
  excerpt, with Whisper word times), when the client's text first shows it minus when the
  client sent the end of that word's audio. Reported as p50/p95 over all streams;
  words that only arrive with the final result are counted apart ("coverage").
- final WER of each stream against its excerpt's offline transcript.

"How many streams this machine holds" = the largest N whose p95 word latency is <= 2 s.
WhisperLive (PyPI ``whisper-live``) runs with its faster_whisper backend on the same
Whisper base weights, one shared model (``single_model``), its defaults otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websockets

from eval.textnorm import normalize, wer
from scripts.paths import ROOT, WHISPER_WEIGHTS
from wire.pcm import to_pcm16

__all__ = ["Excerpt", "RefWord", "StreamRun", "bench_streams", "excerpts", "whisper_live_server", "word_latencies"]

RATE = 16000
FRAME_SEC = 0.1
LATENCY_GOAL_SEC = 2.0
STAGGER_SEC = 7.5  # excerpt i starts i * STAGGER_SEC into the recording (wrapping round)
WHISPER_LIVE = "whisper-live==0.10.0"
WHISPER_LIVE_DIR = ROOT / ".bench" / "whisper-live"


@dataclass(frozen=True)
class RefWord:
    end: float  # seconds into the clip
    key: str  # normalised word


@dataclass(frozen=True)
class Excerpt:
    """One stream's audio and its offline reference."""

    audio: np.ndarray
    words: list[RefWord]
    text: str


@dataclass
class StreamRun:
    updates: list[tuple[float, str]] = field(default_factory=list)  # (seconds since first audio, full text)
    final: str = ""
    audio_sec: float = 0.0


def reference_words(words: Sequence[tuple[float, str]], language: str) -> list[RefWord]:
    """Whisper words (end time, text) as normalised keys; a word that normalises to several keeps its time."""
    return [RefWord(end, key) for end, text in words for key in normalize(text, language).split()]


def word_latencies(ref: Sequence[RefWord], updates: Sequence[tuple[float, str]], language: str) -> list[float | None]:
    """For each reference word, first time an update showed it minus the word's end (None: never shown).

    A word "shows" when it is part of a matching block between the update's text and the
    reference (difflib, in order), so a misrecognised word never counts.
    """
    keys = [w.key for w in ref]
    first: list[float | None] = [None] * len(ref)
    for at, text in updates:
        matcher = difflib.SequenceMatcher(a=keys, b=normalize(text, language).split(), autojunk=False)
        for block in matcher.get_matching_blocks():
            for i in range(block.a, block.a + block.size):
                if first[i] is None:
                    first[i] = at
    return [None if t is None else t - w.end for t, w in zip(first, ref, strict=True)]


# Clients ---------------------------------------------------------------------------------
async def _paced(ws: websockets.ClientConnection, audio: np.ndarray, start: float) -> None:
    step = int(RATE * FRAME_SEC)
    for i in range(0, len(audio), step):
        await asyncio.sleep(max(0.0, start + i / RATE - time.monotonic()))
        await ws.send(to_pcm16(audio[i : i + step]))


async def audio_core_stream(url: str, audio: np.ndarray, language: str) -> StreamRun:
    run = StreamRun(audio_sec=len(audio) / RATE)
    ws_url = url.replace("http://", "ws://") + f"/ws/asr?language={language}&sample_rate={RATE}"
    async with websockets.connect(ws_url, max_size=2**22) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        start = time.monotonic()

        async def receive() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "partial":
                    run.updates.append((time.monotonic() - start, msg["text"]))
                elif msg["type"] == "final":
                    run.final = msg["text"]

        receiver = asyncio.create_task(receive())
        await _paced(ws, audio, start)
        await ws.send(json.dumps({"event": "stop"}))
        await receiver
    return run


async def whisper_live_stream(url: str, audio: np.ndarray, language: str, settle_sec: float = 3.0) -> StreamRun:
    """WhisperLive's protocol: options JSON, SERVER_READY, raw audio frames, END_OF_AUDIO.

    Its messages carry the last completed segments plus the current one; the client
    keeps every completed segment it has seen (keyed by start) to rebuild the full text.
    It has no final message, so after the audio the client waits until the server has
    been quiet for ``settle_sec`` and takes the text it has then.
    """
    run = StreamRun(audio_sec=len(audio) / RATE)
    uid = str(uuid.uuid4())
    completed: dict[float, str] = {}
    current = ""

    def text() -> str:
        return " ".join([completed[k].strip() for k in sorted(completed)] + [current.strip()]).strip()

    async with websockets.connect(url, max_size=2**22) as ws:
        options = {"uid": uid, "language": language, "task": "transcribe", "model": "base", "use_vad": True}
        await ws.send(json.dumps({**options, "audio_format": "int16"}))
        while json.loads(await ws.recv()).get("message") != "SERVER_READY":
            pass
        start = time.monotonic()
        last_message = start

        async def receive() -> None:
            nonlocal current, last_message
            async for raw in ws:
                msg = json.loads(raw)
                if "segments" not in msg:
                    continue
                current = ""
                for seg in msg["segments"]:
                    if seg.get("completed"):
                        completed[float(seg["start"])] = seg["text"]
                    else:
                        current = seg["text"]
                last_message = time.monotonic()
                run.updates.append((last_message - start, text()))

        receiver = asyncio.create_task(receive())
        await _paced(ws, audio, start)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and time.monotonic() - last_message < settle_sec:
            await asyncio.sleep(0.2)
        run.final = text()
        await ws.send(b"END_OF_AUDIO")
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
    return run


# WhisperLive server ------------------------------------------------------------------------
@contextmanager
def whisper_live_server() -> Iterator[str | None]:
    """WhisperLive's server on a free port, faster_whisper backend, our Whisper base weights.

    Its wheel pins packages this project does not use (openvino, torchaudio, CUDA libraries,
    an old tokenizers); the server itself needs only what the service venv already has, so
    it is installed alone into .bench/whisper-live and run with this interpreter.
    """
    if not (WHISPER_LIVE_DIR / "whisper_live").is_dir():
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(WHISPER_LIVE_DIR)]
        if subprocess.run([*cmd, WHISPER_LIVE], capture_output=True).returncode != 0:
            print(f"could not install {WHISPER_LIVE}; the WhisperLive comparison is skipped")
            yield None
            return
    from scripts.stack import free_port

    port = free_port()
    code = (
        "from whisper_live.server import TranscriptionServer\n"
        f"TranscriptionServer().run('127.0.0.1', {port}, backend='faster_whisper',"
        f" faster_whisper_custom_model_path={str(WHISPER_WEIGHTS)!r}, single_model=True,"
        " max_clients=64, max_connection_time=3600)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(WHISPER_LIVE_DIR)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        yield f"ws://127.0.0.1:{port}" if proc.poll() is None else None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


# The comparison ----------------------------------------------------------------------------
def _summary(runs: list[StreamRun], clips: Sequence[Excerpt], language: str) -> dict[str, Any]:
    """``runs[i]`` streamed ``clips[i]``."""
    latencies: list[float] = []
    shown = 0
    for run, clip in zip(runs, clips, strict=True):
        for lat in word_latencies(clip.words, run.updates, language):
            if lat is not None:
                latencies.append(lat)
                shown += 1
    total = sum(len(clip.words) for clip in clips)
    finals_wer = [wer([clip.text], [run.final], language) for run, clip in zip(runs, clips, strict=True)]
    return {
        "streams": len(runs),
        "word_latency_p50_sec": round(float(np.percentile(latencies, 50)), 3) if latencies else None,
        "word_latency_p95_sec": round(float(np.percentile(latencies, 95)), 3) if latencies else None,
        "words_shown_while_streaming": round(shown / total, 3) if total else 0.0,
        "final_wer_mean": round(float(np.mean(finals_wer)), 4),
        "updates_per_stream": round(float(np.mean([len(r.updates) for r in runs])), 1),
    }


def _holds(row: dict[str, Any]) -> bool:
    p95 = row["word_latency_p95_sec"]
    return p95 is not None and p95 <= LATENCY_GOAL_SEC and row["words_shown_while_streaming"] > 0.5


def bench_streams(
    system: str, url: str, clips: Sequence[Excerpt], language: str, levels: Sequence[int]
) -> list[dict[str, Any]]:
    """Ramp through ``levels`` of simultaneous streams (stream i speaks ``clips[i % len(clips)]``);
    stop after the first level that misses the goal."""
    one = audio_core_stream if system == "audio_core" else whisper_live_stream

    async def level(chosen: list[Excerpt]) -> list[StreamRun]:
        return await asyncio.gather(*(one(url, clip.audio, language) for clip in chosen))

    rows: list[dict[str, Any]] = []
    for n in levels:
        chosen = [clips[i % len(clips)] for i in range(n)]
        rows.append({"system": system, **_summary(asyncio.run(level(chosen)), chosen, language)})
        print(rows[-1], flush=True)
        if not _holds(rows[-1]):
            break
    return rows


def max_streams(rows: Sequence[dict[str, Any]]) -> int:
    return max([r["streams"] for r in rows if _holds(r)], default=0)


def offline_reference(model: object, audio: np.ndarray, language: str) -> tuple[list[RefWord], str]:
    """The clip's offline transcript (beam 5, full windows) with word end times."""
    segments, _ = model.transcribe(audio, language=language, beam_size=5, word_timestamps=True)  # type: ignore[attr-defined]
    segments = list(segments)
    words = [(w.end, w.word) for s in segments for w in (s.words or [])]
    return reference_words(words, language), "".join(s.text for s in segments)


def excerpts(model: object, path: Path, seconds: float, language: str) -> list[Excerpt]:
    """``seconds``-long stretches of the recording STAGGER_SEC apart, each with its offline reference."""
    from wire.audio import read_audio_file

    audio = read_audio_file(path, RATE).samples
    span = int(seconds * RATE)
    starts = range(0, max(1, len(audio) - span + 1), int(STAGGER_SEC * RATE))
    out = []
    for start in starts:
        piece = audio[start : start + span]
        words, text = offline_reference(model, piece, language)
        out.append(Excerpt(piece, words, text))
    return out


def main() -> None:
    """Both systems, one after the other (never sharing the cores): python -m benchmarks.streams."""
    import argparse
    import tempfile

    from faster_whisper import WhisperModel

    from scripts.paths import DATA_DIR
    from scripts.stack import gateway, torchserve

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--levels", default="1,2,3,4,6,8")
    parser.add_argument("--only", choices=["audio_core", "whisper_live"])
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    model = WhisperModel(str(WHISPER_WEIGHTS), device="cpu", compute_type="int8", local_files_only=True)
    clips = excerpts(model, DATA_DIR / STREAM_CLIP, args.seconds, "en")
    del model
    rows: list[dict[str, Any]] = []
    if args.only != "whisper_live":
        with (
            tempfile.TemporaryDirectory() as tmp,
            torchserve(Path(tmp) / "ts") as ts,
            gateway(ts, Path(tmp) / "gw") as gw,
        ):
            rows += bench_streams("audio_core", gw.url, clips, "en", levels)
    if args.only != "audio_core":
        with whisper_live_server() as url:
            if url:
                rows += bench_streams("whisper_live", url, clips, "en", levels)
    print(json.dumps(rows, indent=1))


STREAM_CLIP = "snakers4__silero-vad/en.wav"

if __name__ == "__main__":
    main()
