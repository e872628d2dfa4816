"""Every service the gateway runs, built once per process in the lifespan: one typed container."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from gateway.app.services.audio_budget import AudioBudget
from gateway.app.services.database import open_engine
from gateway.app.services.diarization import Diarizer
from gateway.app.services.enhancement import Enhancer
from gateway.app.services.file_store import LocalFileStore
from gateway.app.services.job_runner import JobAudio, JobRunner
from gateway.app.services.job_store import JobStore
from gateway.app.services.microphone import Microphone
from gateway.app.services.speaker_store import SpeakerStore
from gateway.app.services.speakers import Speakers
from gateway.app.services.stream_admission import StreamAdmission
from gateway.app.services.torchserve import TorchServeClient
from gateway.app.services.transcription import AudioDecoder, Transcriber
from gateway.app.services.webhooks import WebhookSender
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
    database: Engine
    jobs: JobStore
    job_audio: JobAudio
    webhooks: WebhookSender
    job_runner: JobRunner

    @classmethod
    def create(cls, settings: Settings, torchserve: TorchServeClient | None = None) -> Services:
        client = torchserve or TorchServeClient(settings)
        database = open_engine(settings.DATABASE_URL)
        speaker_store = SpeakerStore(database, settings.MAX_SAMPLES_PER_SPEAKER, settings.MAX_SPEAKERS)
        budget = AudioBudget(settings.MAX_AUDIO_SEC_IN_FLIGHT, settings.BUSY_WAIT_SEC)
        enhancer = Enhancer(settings, client, budget)
        speakers = Speakers(settings, client, speaker_store)
        transcriber = Transcriber(settings, client, enhancer, budget)
        diarizer = Diarizer(settings, speakers)
        store = LocalFileStore(settings.STORAGE_DIR, settings.MAX_FILENAME_CHARS, settings.FILES_QUOTA_BYTES)
        jobs = JobStore(database)
        # job audio sits beside the stored files, on the volume every replica shares; ".jobs" is
        # a name no stored file can have
        job_audio = JobAudio(store.root / ".jobs")
        webhooks = WebhookSender(settings)
        return cls(
            settings=settings,
            torchserve=client,
            store=store,
            speaker_store=speaker_store,
            decoder=AudioDecoder(settings),
            budget=budget,
            enhancer=enhancer,
            transcriber=transcriber,
            speakers=speakers,
            microphone=Microphone(SAMPLE_RATE, settings.MIC_DEVICE),
            streams=StreamAdmission(
                settings.STREAM_MAX_STREAMS, settings.STREAM_MAX_PER_KEY, settings.STREAM_MAX_PER_ADDRESS
            ),
            diarizer=diarizer,
            database=database,
            jobs=jobs,
            job_audio=job_audio,
            webhooks=webhooks,
            job_runner=JobRunner(settings, jobs, job_audio, transcriber, diarizer, webhooks),
        )

    async def aclose(self) -> None:
        await self.torchserve.aclose()
        await self.webhooks.aclose()
        self.speaker_store.close()
        self.database.dispose()
