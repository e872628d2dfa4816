"""Stream audio to /ws/asr and print what comes back.

    python -m clients.asr_stream speech.wav                      # a file, paced at real time
    python -m clients.asr_stream speech.wav --speed 0            # as fast as the server takes it
    python -m clients.asr_stream --mic --seconds 10              # the local microphone (sounddevice)
    python -m clients.asr_stream speech.wav --url ws://host:8000/ws/asr --language en

Any file PyAV reads is decoded to mono PCM16 at --rate and sent in --chunk-ms frames.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import websockets

from wire.audio import read_audio_file
from wire.pcm import to_pcm16

__all__ = ["StreamResult", "file_chunks", "stream_pcm"]


@dataclass
class StreamResult:
    ready: dict[str, Any] | None = None
    partials: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    sent_sec: float = 0.0
    started_at: float | None = None  # monotonic time of the first audio frame
    stopped_at: float | None = None  # monotonic time of the stop event


async def file_chunks(path: str, rate: int, chunk_ms: int, speed: float) -> AsyncIterator[bytes]:
    """PCM16 frames of a file; ``speed`` 1.0 is real time, 0 is no pacing."""
    audio = (await asyncio.to_thread(read_audio_file, path, rate)).samples
    step = int(rate * chunk_ms / 1000)
    start = time.monotonic()
    for i in range(0, len(audio), step):
        if speed > 0:
            due = start + (i / rate) / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        yield to_pcm16(audio[i : i + step])


async def mic_chunks(rate: int, chunk_ms: int, seconds: float) -> AsyncIterator[bytes]:
    import sounddevice as sd

    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=100)
    loop = asyncio.get_running_loop()

    def callback(indata: Any, frames: int, t: Any, status: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, bytes(indata))

    blocksize = int(rate * chunk_ms / 1000)
    with sd.RawInputStream(samplerate=rate, channels=1, dtype="int16", blocksize=blocksize, callback=callback):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            yield await queue.get()


async def stream_pcm(
    url: str,
    chunks: AsyncIterator[bytes],
    rate: int,
    on_message: Any = None,
    headers: dict[str, str] | None = None,
    keepalive: bool = True,
) -> StreamResult:
    """Send ``chunks`` to /ws/asr, then stop; collect every message until the server closes.

    Send faster than real time with ``keepalive=False``: the server applies backpressure
    (stops reading while it decodes the backlog), and a keepalive ping queued behind
    megabytes of unread audio would time out and close the connection.
    """
    result = StreamResult()
    sep = "&" if "?" in url else "?"
    full_url = url if "sample_rate=" in url else f"{url}{sep}sample_rate={rate}"
    ping_interval = 20.0 if keepalive else None
    async with websockets.connect(
        full_url, additional_headers=headers, max_size=2**22, ping_interval=ping_interval
    ) as ws:

        async def receive() -> None:
            async for raw in ws:
                message = json.loads(raw)
                message["received_at"] = time.monotonic()
                message["sent_sec_then"] = result.sent_sec
                kind = message.get("type")
                if kind == "ready":
                    result.ready = message
                elif kind == "partial":
                    result.partials.append(message)
                elif kind == "final":
                    result.final = message
                else:
                    result.errors.append(message)
                if on_message:
                    on_message(message)

        receiver = asyncio.create_task(receive())
        try:
            async for chunk in chunks:
                if result.started_at is None:
                    result.started_at = time.monotonic()
                await ws.send(chunk)
                result.sent_sec += len(chunk) / 2 / rate
            result.stopped_at = time.monotonic()
            await ws.send(json.dumps({"event": "stop"}))
            await receiver
        except websockets.ConnectionClosed:
            pass
        finally:
            receiver.cancel()
        result.close_code = ws.close_code
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="audio file to stream")
    parser.add_argument("--mic", action="store_true", help="stream the default microphone instead")
    parser.add_argument("--seconds", type=float, default=10.0, help="microphone duration")
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ws/asr")
    parser.add_argument("--language", default=None)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time, 0 = unpaced")
    args = parser.parse_args()
    url = args.url + (f"?language={args.language}" if args.language else "")
    chunks = (
        mic_chunks(args.rate, args.chunk_ms, args.seconds)
        if args.mic
        else file_chunks(args.path, args.rate, args.chunk_ms, args.speed)
    )

    def show(message: dict[str, Any]) -> None:
        printable = {k: v for k, v in message.items() if k not in ("received_at", "sent_sec_then")}
        print(json.dumps(printable, ensure_ascii=False), flush=True)

    asyncio.run(stream_pcm(url, chunks, args.rate, on_message=show, keepalive=args.mic or args.speed > 0))


if __name__ == "__main__":
    main()
