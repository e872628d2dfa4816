"""The speaker-embedding handler in-process: GE2E on real LibriSpeech speakers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handlers.speaker_embedding.handler import SpeakerEmbeddingHandler
from tests.handlers.context import Context, load_handler
from wire.audio import read_audio_file
from wire.pcm import to_pcm16

LIBRI = "resemble-ai__Resemblyzer/librispeech_test-other"


@pytest.fixture(scope="module")
def handler() -> tuple[SpeakerEmbeddingHandler, Context]:
    return load_handler(SpeakerEmbeddingHandler, "speaker-embedding")  # type: ignore[no-any-return]


def _pcm(path: Path) -> dict[str, object]:
    return {
        "audio": bytearray(to_pcm16(read_audio_file(path, 16000).samples)),
        "params": {"format": "s16le", "sample_rate": 16000},
    }


def test_same_speaker_scores_higher_and_silence_is_rejected(
    handler: tuple[SpeakerEmbeddingHandler, Context], data_dir: Path
) -> None:
    service, ctx = handler
    a1, a2 = sorted((data_dir / LIBRI / "1688").glob("*.flac"))[:2]
    b1 = sorted((data_dir / LIBRI / "2033").glob("*.flac"))[0]
    silence = {"audio": bytearray(bytes(32000)), "params": {"format": "s16le", "sample_rate": 16000}}
    hum = {
        "audio": bytearray(to_pcm16(0.001 * np.ones(16000, np.float32))),
        "params": {"format": "s16le", "sample_rate": 16000},
    }
    out = service.handle([_pcm(a1), _pcm(a2), silence, {"body": bytearray(b1.read_bytes())}, hum], ctx)
    vectors = [np.array(out[i]["embedding"]) for i in (0, 1, 3)]
    for v in vectors:
        assert v.shape == (256,) and abs(np.linalg.norm(v) - 1) < 1e-4
    same, different = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert same > 0.72 > different
    assert ctx.statuses[2][0] == 400 and "no speech" in out[2]["detail"]
    assert ctx.statuses[4][0] == 400 and "no speech" in out[4]["detail"]
    assert set(ctx.statuses) == {2, 4}


def test_a_batch_is_one_forward_pass_with_the_same_embeddings(
    handler: tuple[SpeakerEmbeddingHandler, Context], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _ = handler
    clips = [read_audio_file(p, 16000).samples for p in sorted((data_dir / LIBRI / "2414").glob("*.flac"))[:4]]
    # resemblyzer's own one-clip path, as the reference
    from resemblyzer import preprocess_wav

    alone = [service.encoder.encoder.embed_utterance(preprocess_wav(c, source_sr=16000)) for c in clips]
    forward = service.encoder.encoder.forward
    calls: list[int] = []

    def counted(mels):  # type: ignore[no-untyped-def]
        calls.append(int(mels.shape[0]))
        return forward(mels)

    monkeypatch.setattr(service.encoder.encoder, "forward", counted)
    together = service.encoder.embed_many([*clips, np.zeros(16000, np.float32)])
    assert len(calls) == 1 and calls[0] > len(clips)  # every partial window of every clip, at once
    for single, batched in zip(alone, together[:4], strict=True):
        assert isinstance(batched, dict)
        np.testing.assert_allclose(np.array(batched["embedding"]), single, atol=1e-4)
    assert isinstance(together[4], Exception)
