"""How far 1.5 s GE2E windows can go: ``python -m eval.diarization_bounds``.

In-process (the built speaker-embedding archive, the gateway's own clustering), for pyannote's
sample.wav, the AMI excerpts dev00/dev01 and eval's built conversations, DER with pyannote.metrics for:
- blind: the service's clustering with its default merge threshold (what /audio/diarize does);
- true count: the tree cut at the reference's number of speakers;
- oracle labels: every embedded window labelled with the reference speaker that fills most of it.
The last is the floor of this design (windows, speech gating, turn boundaries), whatever the clustering.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eval.conversations import build_conversations
from eval.diarization import PYANNOTE, _annotation, _rttm
from gateway.core import diarization as core
from gateway.core.config import Settings
from scripts.paths import ROOT
from wire.audio import read_audio_file

DATA = ROOT.parent / "shared" / "data"


def _recordings() -> dict[str, tuple[np.ndarray, list[tuple[float, float, str]], float, tuple[float, float] | None]]:
    found: dict[str, Any] = {}
    sample = read_audio_file(DATA / PYANNOTE / "sample.wav", 16000).samples
    found["sample.wav"] = (sample, _rttm(DATA / PYANNOTE / "sample.rttm", "sample"), 0.0, None)
    rttm = DATA / PYANNOTE / "tests_data" / "debug.development.rttm"
    for name in ("dev00", "dev01"):
        audio = read_audio_file(DATA / PYANNOTE / "tests_data" / f"{name}.wav", 16000).samples
        found[name] = (audio, _rttm(rttm, name), 0.0, (0.0, 30.0))
    for conv in build_conversations(DATA, count=12):
        found[conv.name] = (conv.audio, conv.turns, 0.25, None)
    return found


def _majority(span: tuple[float, float], reference: list[tuple[float, float, str]]) -> str | None:
    overlap: dict[str, float] = {}
    for start, end, speaker in reference:
        shared = min(span[1], end) - max(span[0], start)
        if shared > 0:
            overlap[speaker] = overlap.get(speaker, 0.0) + shared
    return max(overlap, key=overlap.__getitem__) if overlap else None


def main() -> None:
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    from handlers.speaker_embedding.handler import SpeakerEmbeddingHandler
    from tests.handlers.context import load_handler

    handler, _ = load_handler(SpeakerEmbeddingHandler, "speaker-embedding")
    threshold = Settings().DIARIZE_MERGE_THRESHOLD
    totals: dict[str, list[float]] = {}
    print("| recording | blind | true count | oracle window labels |")
    print("| --- | ---: | ---: | ---: |")
    for name, (audio, reference, collar, uem) in _recordings().items():
        spans = core.window_spans(len(audio) / 16000)
        answers = handler.infer([(audio, spans)])[0]["spans"]
        voiced = [i for i, a in enumerate(answers) if a["embedding"] is not None]
        vectors = np.array([answers[i]["embedding"] for i in voiced], dtype=np.float32)
        count = len({speaker for _, _, speaker in reference})
        oracle_names = [_majority(spans[i], reference) for i in voiced]
        known = sorted({n for n in oracle_names if n})
        labelings = {
            "blind": core.cluster(vectors, threshold),
            "true count": core.cluster(vectors, threshold, num_speakers=count),
            "oracle": np.array([known.index(n) if n else 0 for n in oracle_names]),
        }
        row = []
        for key, found in labelings.items():
            labels = np.full(len(spans), -1)
            labels[voiced] = found
            turn_list = core.turns(spans, core.smooth(labels.tolist()) if key != "oracle" else labels.tolist())
            hypothesis = _annotation([(t.start, t.end, str(t.label)) for t in turn_list])
            metric = DiarizationErrorRate(collar=collar)
            timeline = Timeline([Segment(*uem)]) if uem else None
            value = float(metric(_annotation(reference), hypothesis, uem=timeline))
            group = "conversations (mean)" if name.startswith("conv") else name
            totals.setdefault(f"{group}|{key}", []).append(value)
            row.append(value)
        if not name.startswith("conv"):
            print(f"| {name} | " + " | ".join(f"{v:.1%}" for v in row) + " |")
    means = [float(np.mean(totals[f"conversations (mean)|{key}"])) for key in ("blind", "true count", "oracle")]
    print("| 12 built conversations (mean) | " + " | ".join(f"{v:.1%}" for v in means) + " |")


if __name__ == "__main__":
    main()
