"""All gateway settings in one typed class, read from the environment (and .env).

Every limit the service enforces is named here; nothing else reads os.environ.
Names are the env var names (case-insensitive), e.g. ``MAX_UPLOAD_BYTES=1000000``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Audio and recognition
    SAMPLE_RATE: int = Field(16000, ge=8000, le=48000, description="Rate Whisper expects; uploads are resampled to it.")
    DEFAULT_LANGUAGE: str = Field(
        "ru", description="Language used by /audio/transcribe when none is given ('auto' detects)."
    )
    ASR_PIECE_SEC: float = Field(
        30.0,
        gt=5,
        le=30,
        description="Longest piece of a file sent in one model request; longer audio is split at its quietest points.",
    )
    SILENCE_RMS: float = Field(
        1e-4,
        ge=0,
        description="Audio quieter than this RMS (-80 dBFS: file pieces, stream buffers) never reaches the model.",
    )
    ASR_MAX_PARALLEL_PIECES: int = Field(4, ge=1, le=64, description="Pieces of one file in flight at once.")
    ASR_WINDOW_SEC: float = Field(15.0, gt=1, le=30, description="Length of the /ws/asr decoding window.")
    ASR_EMIT_SEC: float = Field(
        0.5,
        gt=0.1,
        le=10,
        description="How often /ws/asr decodes and emits a partial (less often when the model is busy).",
    )

    # Access control
    API_KEYS: str = Field(
        "", description="Comma-separated API keys; when set, every route but /health and /ready needs one."
    )
    RATE_LIMIT_PER_MIN: int = Field(0, ge=0, description="Requests per minute per API key (0: no limit).")
    STREAM_MAX_PER_KEY: int = Field(0, ge=0, description="Concurrent /ws/asr streams per API key (0: no limit).")
    LOG_LEVEL: str = Field("INFO", description="Log level of the JSON logs.")

    @property
    def api_keys(self) -> list[str]:
        return [k.strip() for k in self.API_KEYS.split(",") if k.strip()]

    # Server (python -m gateway)
    HOST: str = Field("127.0.0.1", description="Address the gateway listens on.")
    PORT: int = Field(8000, ge=1, le=65535, description="Port the gateway listens on.")
    WS_PING_INTERVAL_SEC: float = Field(20.0, gt=0, description="WebSocket keepalive ping interval.")
    WS_PING_TIMEOUT_SEC: float = Field(
        300.0,
        gt=0,
        description="Wait for a pong. Long on purpose: under backpressure a pong waits behind the stream's unread audio.",
    )

    # Live streams (/ws/asr)
    STREAM_MAX_STREAMS: int = Field(16, ge=1, description="Concurrent /ws/asr streams per gateway process.")
    STREAM_MAX_SEC: float = Field(4 * 3600.0, gt=0, description="Longest stream; past it the server closes it.")
    STREAM_IDLE_TIMEOUT_SEC: float = Field(30.0, gt=0, description="A stream that sends nothing this long is closed.")
    STREAM_MAX_FRAME_BYTES: int = Field(256 * 1024, ge=2, description="Largest binary or text frame accepted.")
    STREAM_MAX_BUFFER_SEC: float = Field(
        60.0, gt=1, description="Undecoded audio held per stream; past it the server stops reading (backpressure)."
    )
    STREAM_BEAM_SIZE: int = Field(
        1,
        ge=1,
        le=10,
        description="Beam width for stream decodes (greedy: about half the CPU time of beam 5, same WER here).",
    )
    STREAM_TRIM_SEC: float = Field(
        8.0,
        ge=0,
        description="A stream's buffer keeps committed audio as context until it is this long (then trims it).",
    )
    STREAM_TOKENS_PER_SEC: float = Field(
        12.0,
        gt=0,
        description="Text tokens a decode may produce per second of audio (+16): a repetition loop stops there.",
    )
    STREAM_FIT_WINDOW: bool = Field(
        True,
        description="Encode only the stream buffer (plus padding), not Whisper's full 30 s window: 2-3x cheaper decodes.",
    )
    STREAM_NO_SPEECH_PROB: float = Field(
        0.6, ge=0, le=1, description="Segments the model itself thinks are not speech above this are dropped."
    )

    # Model server
    TORCHSERVE_URL: str = Field("http://127.0.0.1:8080", description="TorchServe inference API.")
    TORCHSERVE_MANAGEMENT_URL: str = Field(
        "http://127.0.0.1:8081", description="TorchServe management API, used by /ready only."
    )
    TORCHSERVE_CONNECT_TIMEOUT_SEC: float = Field(3.0, gt=0, description="Connect timeout to TorchServe.")
    TORCHSERVE_TIMEOUT_SEC: float = Field(
        120.0, gt=0, description="Longest wait for one model answer; past it the client gets 504."
    )
    TORCHSERVE_MAX_CONNECTIONS: int = Field(64, ge=1, description="Connection pool size of the shared HTTP client.")
    ASR_MODEL: str = Field("whisper", description="TorchServe model name for ASR.")
    ENHANCER_MODEL: str = Field("enhancer", description="TorchServe model name for denoising.")
    SPEAKER_MODEL: str = Field("speaker-embedding", description="TorchServe model name for speaker embeddings.")

    # Enhancement
    ENHANCE_MAX_SEC: float = Field(
        120.0, gt=0, le=600, description="Longest audio /audio/enhance takes (it is sent whole, at its own rate)."
    )

    # Speakers
    SPEAKER_THRESHOLD: float = Field(
        0.72, ge=-1, le=1, description="Cosine score at or above which two voices are the same speaker (EER point)."
    )
    DATABASE_URL: str = Field(
        "sqlite:///var/speakers.db", description="SQLAlchemy URL of the speaker store (PostgreSQL when scaled out)."
    )
    MAX_SAMPLES_PER_SPEAKER: int = Field(50, ge=1, description="Enrollment samples kept per speaker.")
    MAX_SPEAKERS: int = Field(10000, ge=1, description="Speakers the store accepts.")
    MIC_TRAINING_ENABLED: bool = Field(
        False, description="Allow /speaker/train/microphone to record from the server's input device."
    )
    MIC_DEFAULT_SEC: float = Field(5.0, gt=0, description="Recording length when the request names none.")
    MIC_MAX_SEC: float = Field(30.0, gt=0, le=300, description="Longest recording a request may ask for.")
    MIC_DEVICE: str | None = Field(
        None, description="sounddevice input device name or index; default device when unset."
    )

    # Files and limits
    STORAGE_DIR: Path = Field(
        Path("var/files"), description="Folder of the file store (a shared volume when scaled out)."
    )
    MAX_UPLOAD_BYTES: int = Field(
        100 * MiB, ge=1, description="Largest accepted upload; larger bodies get 413 while streaming."
    )
    MULTIPART_OVERHEAD_BYTES: int = Field(
        64 * 1024, ge=0, description="Allowance for multipart headers and form fields on top of MAX_UPLOAD_BYTES."
    )
    MAX_AUDIO_SEC: float = Field(
        3600.0, gt=0, description="Longest audio accepted by any endpoint; longer gets 413 (1 h is 230 MB as float32)."
    )
    MAX_FILENAME_CHARS: int = Field(128, ge=16, le=255, description="Longest stored file name.")
    MAX_CONCURRENT_DECODES: int = Field(4, ge=1, description="Audio decodes running at once in worker threads.")


@lru_cache
def get_settings() -> Settings:
    return Settings()
