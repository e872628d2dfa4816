"""The official openai client against /v1/audio/transcriptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from openai import OpenAI

from eval.textnorm import normalize
from scripts.stack import Gateway


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
