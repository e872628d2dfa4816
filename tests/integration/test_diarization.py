"""Who spoke when, through the API on the real stack: conversations built from the LibriSpeech speakers of
shared/data, named from enrolled voices, in JSON and RTTM, inside transcripts, and 1:N identification."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

from eval.conversations import Conversation, build_conversations, enrollment_clip
from scripts.stack import Gateway
from wire.pcm import to_wav

TIMEOUT = httpx.Timeout(300.0)


@pytest.fixture(scope="module")
def conversations(data_dir: Path) -> list[Conversation]:
    return build_conversations(data_dir, count=3, seed=7, turns_per=6)  # 2, 3 and 4 speakers


@pytest.fixture(scope="module")
def enrolled(gw: Gateway, data_dir: Path) -> dict[str, str]:
    """Every LibriSpeech speaker enrolled as dz-<id> from an utterance the conversations never use."""
    ids = {}
    with httpx.Client(base_url=gw.url, timeout=TIMEOUT) as client:
        for speaker in ("1688", "1998", "2033", "2414", "2609", "3005"):
            clip = enrollment_clip(data_dir, speaker)
            r = client.post(
                "/speaker/enroll", data={"speaker_id": f"dz-{speaker}"}, files={"file": (clip.name, clip.read_bytes())}
            )
            assert r.status_code == 200, r.text
            ids[speaker] = f"dz-{speaker}"
    return ids


def _diarize(gw: Gateway, conv: Conversation, **params: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/audio/diarize",
        params=params,
        files={"file": (f"{conv.name}.wav", to_wav(conv.audio, 16000))},
        timeout=TIMEOUT,
    )


def _der(conv: Conversation, segments: list[dict], metric: DiarizationErrorRate | None = None) -> float:  # type: ignore[type-arg]
    reference, hypothesis = Annotation(), Annotation()
    for start, end, speaker in conv.turns:
        reference[Segment(start, end)] = speaker
    for s in segments:
        hypothesis[Segment(s["start"], s["end"])] = s["speaker"]
    return float((metric or DiarizationErrorRate(collar=0.25))(reference, hypothesis))


def test_blind_diarization_finds_the_speakers_and_their_turns(gw: Gateway, conversations: list[Conversation]) -> None:
    overall = DiarizationErrorRate(collar=0.25)  # over all three: quality per data set is eval/REPORT.md's
    for conv in conversations:
        body = _diarize(gw, conv).json()
        labels = [s["label"] for s in body["speakers"]]
        assert labels == [f"SPEAKER_{i:02d}" for i in range(len(labels))]  # in order of appearance
        assert all(s["speaker_id"] is None for s in body["speakers"])
        _der(conv, body["segments"], overall)
    assert abs(overall) <= 0.2
    two = conversations[0]
    assert len(_diarize(gw, two).json()["speakers"]) == len(two.speakers)
    rttm = _diarize(gw, two, format="rttm", num_speakers=str(len(two.speakers))).text.splitlines()
    assert rttm and all(line.startswith(f"SPEAKER {two.name} 1 ") for line in rttm)
    assert len({line.split()[7] for line in rttm}) == len(two.speakers)


def test_enrolled_voices_name_the_speakers(
    gw: Gateway, conversations: list[Conversation], enrolled: dict[str, str]
) -> None:
    conv = conversations[1]
    known = ",".join(enrolled[s] for s in conv.speakers[:-1])  # the last speaker is not named in the request
    body = _diarize(gw, conv, known_speakers=known).json()
    by_label = {s["label"]: s for s in body["speakers"]}
    for speaker in conv.speakers[:-1]:
        named = by_label[enrolled[speaker]]
        assert named["speaker_id"] == enrolled[speaker] and named["score"] >= 0.72
    assert "SPEAKER_00" in by_label and by_label["SPEAKER_00"]["speaker_id"] is None
    named_segments = [
        {**s, "speaker": next((k for k, v in enrolled.items() if v == s["speaker"]), s["speaker"])}
        for s in body["segments"]
    ]
    assert _der(conv, named_segments) <= 0.15
    everyone = _diarize(gw, conv, known_speakers="all").json()
    assert {s["speaker_id"] for s in everyone["speakers"]} == {enrolled[s] for s in conv.speakers}


def test_silence_one_voice_and_bad_parameters(gw: Gateway, conversations: list[Conversation]) -> None:
    silence = Conversation("quiet", np.zeros(16000 * 5, np.float32), [], [])
    r = _diarize(gw, silence)
    assert r.status_code == 200 and r.json() == {"segments": [], "speakers": []}
    one = conversations[0]
    first_turn = one.audio[: int(one.turns[0][1] * 16000)]
    body = _diarize(gw, Conversation("one", first_turn, one.turns[:1], one.speakers[:1])).json()
    assert [s["label"] for s in body["speakers"]] == ["SPEAKER_00"]
    for params, status, word in (
        ({"num_speakers": "0"}, 400, "num_speakers"),
        ({"num_speakers": "21"}, 400, "num_speakers"),
        ({"min_speakers": "3", "max_speakers": "2"}, 400, "min_speakers"),
        ({"num_speakers": "2", "max_speakers": "3"}, 400, "not both"),
        ({"known_speakers": "dz-nobody-like-this"}, 404, "dz-nobody-like-this"),
    ):
        r = _diarize(gw, one, **params)
        assert r.status_code == status and word in r.json()["detail"], r.text


def test_transcripts_say_who_said_each_word(
    gw: Gateway, conversations: list[Conversation], enrolled: dict[str, str]
) -> None:
    conv = conversations[0]
    r = httpx.post(
        f"{gw.url}/audio/transcribe",
        params={"language": "en", "diarize": "true", "word_timestamps": "true", "known_speakers": "all"},
        files={"file": ("c.wav", to_wav(conv.audio, 16000))},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    raw = r.json()["raw"]
    names = {s["label"] for s in raw["speakers"]}
    assert names == {enrolled[s] for s in conv.speakers}
    words = [w for s in raw["segments"] for w in s["words"]]
    assert words and all(w["speaker"] in names for w in words)
    right = sum(
        1
        for w in words
        for start, end, speaker in conv.turns
        if start <= (w["start"] + w["end"]) / 2 <= end and enrolled[speaker] == w["speaker"]
    )
    assert right >= 0.9 * len(words)


def test_identify_ranks_the_enrolled_and_rejects_a_stranger(
    gw: Gateway, data_dir: Path, enrolled: dict[str, str]
) -> None:
    from eval.conversations import LIBRI

    probe = sorted((data_dir / LIBRI / "2033").glob("*.flac"))[3]
    with httpx.Client(base_url=gw.url, timeout=TIMEOUT) as client:
        body = client.post("/speaker/identify", files={"probe": (probe.name, probe.read_bytes())}).json()
        assert body["speaker_id"] == "dz-2033" and body["candidates"][0]["speaker_id"] == "dz-2033"
        scores = [c["score"] for c in body["candidates"]]
        assert scores == sorted(scores, reverse=True)
        others = ",".join(v for k, v in enrolled.items() if k != "2033")
        stranger = client.post(
            "/speaker/identify", data={"candidates": others}, files={"probe": (probe.name, probe.read_bytes())}
        ).json()
        assert stranger["speaker_id"] is None and stranger["score"] < stranger["threshold"]
        missing = client.post(
            "/speaker/identify", data={"candidates": "dz-nobody"}, files={"probe": (probe.name, probe.read_bytes())}
        )
        assert missing.status_code == 404


def test_a_live_stream_final_says_who_spoke(
    gw: Gateway, conversations: list[Conversation], enrolled: dict[str, str]
) -> None:
    import asyncio

    from clients.asr_stream import stream_pcm
    from tests.integration.test_stream import ws_url
    from wire.pcm import to_pcm16

    conv = conversations[0]
    pcm = to_pcm16(conv.audio)
    chunks = [pcm[i : i + 3200] for i in range(0, len(pcm), 3200)]
    url = ws_url(gw, language="en", diarize="true", known_speakers=",".join(enrolled[s] for s in conv.speakers))

    async def feed():  # type: ignore[no-untyped-def]
        for chunk in chunks:
            yield chunk

    result = asyncio.run(stream_pcm(url, feed(), 16000, keepalive=False))
    assert result.final is not None and result.close_code == 1000, result.errors
    segments = result.final["segments"]
    assert {s["speaker"] for s in segments} == {enrolled[s] for s in conv.speakers}
    assert " ".join(s["text"] for s in segments).split() == result.final["text"].split()
    # a segment starts where the speaker changes: its first second lies in a turn of that speaker
    # (its middle may not: a stream can miss words, and then one segment spans a short turn of another)
    right = [
        any(
            enrolled[speaker] == seg["speaker"] and start < seg["start"] + 1.0 and end > seg["start"]
            for start, end, speaker in conv.turns
        )
        for seg in segments
    ]
    assert sum(right) >= 0.75 * len(right), segments
