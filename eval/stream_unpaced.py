"""Unpaced /ws/asr streams of the built two-speaker conversations: what the stream's final loses.

    python -m eval.stream_unpaced 0 1 2 3 4 5

A StreamSession in this process against a private TorchServe, fed as a fast client feeds the
service (audio until the buffer is backlogged, then a decode), so every decode sees a full
window. Prints, per conversation, the WER of the stream's final against the file transcribed
offline in 30 s pieces.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from eval.conversations import build_conversations
from eval.textnorm import wer
from gateway.app.services.stream_session import StreamSession
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import Settings
from scripts.paths import DATA_DIR
from scripts.stack import TorchServe, torchserve
from wire.pcm import to_pcm16

PIECE = 16000 * 30


async def one(ts: TorchServe, index: int) -> float:
    conversation = build_conversations(DATA_DIR, count=index + 1)[index]
    settings = Settings(TORCHSERVE_URL=ts.inference_url, TORCHSERVE_MANAGEMENT_URL=ts.management_url)
    client = TorchServeClient(settings)
    try:
        session = StreamSession(settings, client, "en", 16000)
        pcm = to_pcm16(conversation.audio)
        frames = [pcm[i : i + 3200] for i in range(0, len(pcm), 3200)]
        sent = 0
        while sent < len(frames):
            while sent < len(frames) and not session.backlogged:
                session.feed(frames[sent])
                sent += 1
            await session.partial()
        final = (await session.final()).text
        offline = [
            (await client.transcribe("whisper", to_pcm16(conversation.audio[i : i + PIECE]), 16000, {"language": "en"}))
            for i in range(0, len(conversation.audio), PIECE)
        ]
        return wer([" ".join(t.text for t in offline)], [final])
    finally:
        await client.aclose()


def main() -> None:
    indices = [int(a) for a in sys.argv[1:]] or [0, 1, 2, 3, 4, 5]
    with tempfile.TemporaryDirectory() as tmp, torchserve(Path(tmp) / "ts") as ts:
        results = {i: asyncio.run(one(ts, i)) for i in indices}
    for index, value in results.items():
        print(f"conversation {index}: stream final vs offline WER {value:.3f}")
    print(f"mean {sum(results.values()) / len(results):.3f}")


if __name__ == "__main__":
    main()
