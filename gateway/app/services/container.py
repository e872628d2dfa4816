"""Every service the gateway runs, built once per process in the lifespan: one typed container."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.app.services.audio_budget import AudioBudget
from gateway.app.services.diarization import Diarizer
from gateway.app.services.enhancement import Enhancer
from gateway.app.services.file_store import LocalFileStore
from gateway.app.services.microphone import Microphone
from gateway.app.services.speaker_store import SpeakerStore
from gateway.app.services.speakers import Speakers
from gateway.app.services.stream_admission import StreamAdmission
from gateway.app.services.torchserve import TorchServeClient
from gateway.app.services.transcription import AudioDecoder, Transcriber
from gateway.core.config import SAMPLE_RATE, Settings

__all__ = ["Services"]


@dataclass
class Services:
    settings: Settings
    torchserve: TorchServeClient
    store: LocalFileStore
    speaker_store: SpeakerStore
    decoder: AudioDecoder
    budget: AudioBudget
    enhancer: Enhancer
    transcriber: Transcriber
    speakers: Speakers
    microphone: Microphone
    streams: StreamAdmission
    diarizer: Diarizer

    @classmethod
    def create(cls, settings: Settings, torchserve: TorchServeClient | None = None) -> Services:
        client = torchserve or TorchServeClient(settings)
        speaker_store = SpeakerStore(settings.DATABASE_URL, settings.MAX_SAMPLES_PER_SPEAKER, settings.MAX_SPEAKERS)
        budget = AudioBudget(settings.MAX_AUDIO_SEC_IN_FLIGHT, settings.BUSY_WAIT_SEC)
        enhancer = Enhancer(settings, client, budget)
        speakers = Speakers(settings, client, speaker_store)
        return cls(
            settings=settings,
            torchserve=client,
            store=LocalFileStore(settings.STORAGE_DIR, settings.MAX_FILENAME_CHARS, settings.FILES_QUOTA_BYTES),
            speaker_store=speaker_store,
            decoder=AudioDecoder(settings),
            budget=budget,
            enhancer=enhancer,
            transcriber=Transcriber(settings, client, enhancer, budget),
            speakers=speakers,
            microphone=Microphone(SAMPLE_RATE, settings.MIC_DEVICE),
            streams=StreamAdmission(
                settings.STREAM_MAX_STREAMS, settings.STREAM_MAX_PER_KEY, settings.STREAM_MAX_PER_ADDRESS
            ),
            diarizer=Diarizer(settings, speakers),
        )

    async def aclose(self) -> None:
        await self.torchserve.aclose()
        self.speaker_store.close()
