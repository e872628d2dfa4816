"""The official openai client against /v1/audio/transcriptions."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import numpy as np
import pytest
from openai import OpenAI

from eval.conversations import build_conversations, enrollment_clip
from eval.textnorm import normalize
from scripts.stack import Gateway
from wire.audio import read_audio_file
from wire.pcm import to_wav


@pytest.fixture(scope="module")
def client(gw: Gateway) -> OpenAI:
    return OpenAI(base_url=f"{gw.url}/v1", api_key="not-needed", timeout=300, max_retries=0)


def test_json_and_text(client: OpenAI, jfk: Path) -> None:
    with jfk.open("rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert "ask what you can do for your country" in normalize(result.text)
    with jfk.open("rb") as fh:
        text = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="text", language="en")
    assert isinstance(text, str) and "your country" in normalize(text)


def test_verbose_json_with_words_and_segments(client: OpenAI, jfk: Path) -> None:
    with jfk.open("rb") as fh:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=fh, response_format="verbose_json", timestamp_granularities=["word", "segment"]
        )
    assert result.language == "english" and result.duration == pytest.approx(11.0, abs=0.01)
    assert result.words and len(result.words) >= 20 and result.words[0].start < result.words[-1].end <= 11.01
    assert result.segments and result.segments[0].text.strip().startswith("And so")


def test_subtitles(client: OpenAI, jfk: Path) -> None:
    with jfk.open("rb") as fh:
        srt = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="srt", language="en")
    assert str(srt).startswith("1\n00:00:00,000 --> ")
    with jfk.open("rb") as fh:
        vtt = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="vtt", language="en")
    assert str(vtt).startswith("WEBVTT") and "your country" in str(vtt)


def test_russian_detected_and_prompted(client: OpenAI, data_dir: Path) -> None:
    with (data_dir / "mozilla__DeepSpeech" / "ru.wav").open("rb") as fh:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=fh, response_format="verbose_json", prompt="Бедняга"
        )
    assert result.language == "russian" and "на его месте" in normalize(result.text)


def _data_url(audio: np.ndarray) -> str:
    return "data:audio/wav;base64," + base64.b64encode(to_wav(audio, 16000)).decode()


def test_diarized_json_names_the_known_speakers(client: OpenAI, data_dir: Path) -> None:
    conv = build_conversations(data_dir, count=1, seed=3, turns_per=6)[0]
    assert len(conv.speakers) == 2
    names = ["alice", "bob"]
    samples = [read_audio_file(enrollment_clip(data_dir, s), 16000).samples[: 8 * 16000] for s in conv.speakers]
    result = client.audio.transcriptions.create(
        model="gpt-4o-transcribe-diarize",
        file=("call.wav", to_wav(conv.audio, 16000)),
        response_format="diarized_json",
        language="en",
        chunking_strategy="auto",
        known_speaker_names=names,
        known_speaker_references=[_data_url(a) for a in samples],
    )
    assert result.task == "transcribe" and result.segments
    assert {s.speaker for s in result.segments} == set(names)
    assert all(s.type == "transcript.text.segment" and s.start < s.end for s in result.segments)
    who = dict(zip(conv.speakers, names, strict=True))
    right = sum(
        s.end - s.start
        for s in result.segments
        for start, end, speaker in conv.turns
        if start <= (s.start + s.end) / 2 <= end and who[speaker] == s.speaker
    )
    assert right >= 0.85 * sum(s.end - s.start for s in result.segments)
    unnamed = client.audio.transcriptions.create(
        model="whisper-1", file=("call.wav", to_wav(conv.audio, 16000)), response_format="diarized_json", language="en"
    )
    assert {s.speaker for s in unnamed.segments} == {"A", "B"}


def test_diarized_json_bad_references_are_400_naming_the_field(gw: Gateway, data_dir: Path) -> None:
    conv = build_conversations(data_dir, count=1, seed=3, turns_per=2)[0]
    audio = to_wav(conv.audio, 16000)
    voice = _data_url(read_audio_file(enrollment_clip(data_dir, conv.speakers[0]), 16000).samples[: 5 * 16000])
    for fields, word in (
        ({"known_speaker_names[]": ["a", "b"], "known_speaker_references[]": [voice]}, "as many"),
        (
            {"known_speaker_names[]": ["a"], "known_speaker_references[]": ["data:text/plain;base64,aGk="]},
            "known_speaker_references[0]",
        ),
        ({"known_speaker_names[]": ["a"], "known_speaker_references[]": ["not a url"]}, "known_speaker_references[0]"),
        (
            {
                "known_speaker_names[]": ["a"],
                "known_speaker_references[]": [_data_url(np.zeros(16000 * 3, np.float32))],
            },
            "known_speaker_references[0]",
        ),
    ):
        r = httpx.post(
            f"{gw.url}/v1/audio/transcriptions",
            data={"response_format": "diarized_json", **fields},
            files={"file": ("c.wav", audio)},
            timeout=300,
        )
        assert r.status_code == 400 and word in r.json()["detail"], r.text


def test_translations_to_english(client: OpenAI, data_dir: Path) -> None:
    with (data_dir / "mozilla__DeepSpeech" / "ru.wav").open("rb") as fh:
        result = client.audio.translations.create(model="whisper-1", file=fh)
    words = normalize(result.text).split()
    assert len(words) >= 3 and all(w.isascii() for w in words)  # English words, not Russian ones
    with (data_dir / "mozilla__DeepSpeech" / "ru.wav").open("rb") as fh:
        text = client.audio.translations.create(model="whisper-1", file=fh, response_format="text")
    assert isinstance(text, str) and text.strip()


def test_streamed_transcription_sends_deltas_then_done(client: OpenAI, data_dir: Path) -> None:
    path = data_dir / "snakers4__silero-vad" / "en.wav"  # 60 s: two pieces, two deltas
    with path.open("rb") as fh:
        events = list(client.audio.transcriptions.create(model="whisper-1", file=fh, language="en", stream=True))
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    done = [e for e in events if e.type == "transcript.text.done"]
    assert len(deltas) >= 2 and len(done) == 1 and events[-1].type == "transcript.text.done"
    assert done[0].text == "".join(deltas).strip()
    with path.open("rb") as fh:
        whole = client.audio.transcriptions.create(model="whisper-1", file=fh, language="en")
    assert done[0].text == whole.text


def test_hotwords_are_accepted_and_bounded(gw: Gateway, jfk: Path) -> None:
    data = jfk.read_bytes()
    ok = httpx.post(
        f"{gw.url}/audio/transcribe",
        params={"language": "en", "hotwords": "Americans, country"},
        files={"file": ("j.flac", data)},
        timeout=300,
    )
    assert ok.status_code == 200 and "country" in normalize(ok.json()["text"])
    long = "word " * 200
    for r in (
        httpx.post(
            f"{gw.url}/audio/transcribe", params={"hotwords": long}, files={"file": ("j.flac", data)}, timeout=300
        ),
        httpx.post(
            f"{gw.url}/v1/audio/transcriptions", data={"hotwords": long}, files={"file": ("j.flac", data)}, timeout=300
        ),
    ):
        assert r.status_code == 400 and "hotwords" in r.json()["detail"]
