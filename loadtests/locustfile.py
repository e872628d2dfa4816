"""Load test of Audio Core with real speech from shared/data.

    make load USERS=8 DURATION=2m            # against `make up` on 127.0.0.1:8000
    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000   # with the web UI

RestUser: a realistic REST mix (transcribe, upload, download, enhance, verify).
StreamUser: /ws/asr at real-time pace; reports time to first partial, partial latency
(when the text arrives minus when the audio it heard was sent) and final correctness
as their own locust request types. Set AUDIO_CORE_API_KEY when the service needs a key.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from locust import HttpUser, User, between, events, task

from scripts.paths import DATA_DIR
from wire.audio import read_audio_file
from wire.pcm import to_pcm16

API_KEY = os.environ.get("AUDIO_CORE_API_KEY", "")
HEADERS = {"X-API-Key": API_KEY} if API_KEY else {}
SPEECH = [
    ("openai__whisper/jfk.flac", "en"),
    ("mozilla__DeepSpeech/ru.wav", "ru"),
    ("ekhodzitsky__gigastt/golos_fixtures/golos_04.wav", "ru"),
    ("ggerganov__whisper.cpp_pr2824_hifitts6097/audio/presentpictureofnsw_05_mann_0592.wav", "en"),
]
NOISY = "facebookresearch__denoiser/valentini_noisy/p287_002.wav"
SPEAKER = sorted((DATA_DIR / "resemble-ai__Resemblyzer/librispeech_test-other/1688").glob("*.flac"))


def _bytes(name: str | Path) -> bytes:
    return (DATA_DIR / name).read_bytes()


class RestUser(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.client.headers.update(HEADERS)
        self.speaker_id = f"load-{random.randrange(1 << 30)}"
        self.client.post(
            "/speaker/enroll",
            data={"speaker_id": self.speaker_id},
            files={"file": ("e.flac", SPEAKER[0].read_bytes())},
            name="/speaker/enroll",
        )
        r = self.client.post("/files/upload", files={"file": ("load.flac", _bytes(SPEECH[0][0]))}, name="/files/upload")
        self.stored = r.json().get("filename", "load.flac") if r.ok else "load.flac"

    @task(6)
    def transcribe(self) -> None:
        name, lang = random.choice(SPEECH)
        self.client.post(
            f"/audio/transcribe?language={lang}",
            files={"file": (Path(name).name, _bytes(name))},
            name="/audio/transcribe",
        )

    @task(1)
    def upload(self) -> None:
        self.client.post("/files/upload", files={"file": ("load.wav", _bytes(NOISY))}, name="/files/upload")

    @task(2)
    def download(self) -> None:
        self.client.get(f"/files/download/{self.stored}", name="/files/download/[name]")

    @task(2)
    def enhance(self) -> None:
        self.client.post("/audio/enhance", files={"file": ("noisy.wav", _bytes(NOISY))}, name="/audio/enhance")

    @task(2)
    def verify(self) -> None:
        probe = random.choice(SPEAKER[1:])
        self.client.post(
            "/speaker/verify",
            data={"speaker_id": self.speaker_id},
            files={"probe": (probe.name, probe.read_bytes())},
            name="/speaker/verify",
        )


class StreamUser(User):
    """Streams a recording to /ws/asr in 100 ms PCM16 frames at real-time pace."""

    wait_time = between(1.0, 3.0)
    audio = to_pcm16(read_audio_file(DATA_DIR / "openai__whisper/jfk.flac", 16000).samples)
    expected = "your country"

    def _fire(self, name: str, started: float, response_time_ms: float, exc: Exception | None = None) -> None:
        events.request.fire(
            request_type="WS",
            name=name,
            response_time=response_time_ms,
            response_length=0,
            exception=exc,
            context={},
            start_time=started,
        )

    @task
    def stream(self) -> None:
        from websockets.sync.client import connect

        url = self.host.replace("http", "ws", 1) + "/ws/asr?language=en&sample_rate=16000"
        frame = 3200  # 100 ms
        started = time.time()
        first_partial: float | None = None
        try:
            with connect(url, additional_headers=HEADERS, open_timeout=30) as ws:
                json.loads(ws.recv(timeout=30))  # ready
                t0 = time.monotonic()
                for i in range(0, len(self.audio), frame):
                    ws.send(self.audio[i : i + frame])
                    time.sleep(max(0.0, t0 + (i + frame) / 32000 - time.monotonic()))
                    while True:  # drain what arrived, without blocking the pace
                        try:
                            message = json.loads(ws.recv(timeout=0))
                        except TimeoutError:
                            break
                        if message.get("type") == "partial":
                            now = time.monotonic()
                            if first_partial is None:
                                first_partial = now - t0
                                self._fire("/ws/asr first partial", started, first_partial * 1000)
                            lag = now - (t0 + float(message.get("audio_sec", 0)))
                            self._fire("/ws/asr partial latency", started, max(0.0, lag) * 1000)
                ws.send(json.dumps({"event": "stop"}))
                stop_at = time.monotonic()
                while True:
                    message = json.loads(ws.recv(timeout=120))
                    if message.get("type") == "final":
                        break
            text = message.get("text", "").lower()
            error = None if self.expected in text else AssertionError(f"final lacks '{self.expected}': {text!r}")
            self._fire("/ws/asr final", started, (time.monotonic() - stop_at) * 1000, error)
        except Exception as exc:  # noqa: BLE001 - every failure is reported to locust, never raised
            self._fire("/ws/asr final", started, (time.time() - started) * 1000, exc)
