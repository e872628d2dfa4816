"""All gateway settings in one typed class, read from the environment (and .env).

Every limit the service enforces is named here; nothing else reads os.environ.
Names are the env var names (case-insensitive), e.g. ``MAX_UPLOAD_BYTES=1000000``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.core.errors import InvalidRequest
from gateway.core.tenancy import KeyEntry, parse_api_keys
from wire.envelope import MODEL_SAMPLE_RATE
from wire.gate import check_gate_token, is_placeholder

__all__ = ["SAMPLE_RATE", "Settings", "get_settings"]

MiB = 1024 * 1024
# The rate the whisper and speaker-embedding handlers take: a fact of the models, not a knob.
SAMPLE_RATE = MODEL_SAMPLE_RATE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Audio and recognition
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
        "",
        description="Comma-separated 'tenant:key' (or bare 'key': the default tenant); when set, every route but /health and /ready needs one.",
    )
    RATE_LIMIT_PER_MIN: int = Field(
        0, ge=0, description="Requests per minute per API key, or per client address when keys are off (0: no limit)."
    )
    AUTH_FAILURES_PER_MIN: int = Field(
        20, ge=0, description="Failed authentications per client address per minute before it gets 429 (0: no limit)."
    )
    ALLOWED_HOSTS: str = Field(
        "127.0.0.1,localhost,::1",
        description="Host header names the gateway answers to ('*': any); others get 400 (DNS rebinding).",
    )
    ALLOWED_ORIGINS: str = Field(
        "",
        description="Browser origins (scheme://host[:port]) allowed besides the gateway's own ('*': any); others get 403 / WebSocket close 1008.",
    )
    ALLOW_ANONYMOUS: bool = Field(
        False, description="Serve without API_KEYS on a non-loopback HOST (refused at start-up unless set)."
    )
    STREAM_MAX_PER_KEY: int = Field(
        8, ge=0, description="Concurrent /ws/asr streams per API key, when keys are on (0: no limit)."
    )
    STREAM_MAX_PER_ADDRESS: int = Field(
        8,
        ge=0,
        description="Concurrent /ws/asr streams per client address (0: no limit); behind a proxy, see FORWARDED_ALLOW_IPS.",
    )
    LOG_LEVEL: str = Field("INFO", description="Log level of the JSON logs.")

    @property
    def api_keys(self) -> list[KeyEntry]:
        return parse_api_keys(self.API_KEYS)

    @property
    def allowed_hosts(self) -> list[str]:
        return [h.strip().lower() for h in self.ALLOWED_HOSTS.split(",") if h.strip()]

    @property
    def allowed_origins(self) -> list[str]:
        return [o.strip().lower().rstrip("/") for o in self.ALLOWED_ORIGINS.split(",") if o.strip()]

    # Server (python -m gateway)
    HOST: str = Field("127.0.0.1", description="Address the gateway listens on.")
    PORT: int = Field(8000, ge=1, le=65535, description="Port the gateway listens on.")
    MAX_CONNECTIONS: int = Field(
        1000, ge=1, description="Open connections the server accepts at once; past it new requests get 503."
    )
    KEEPALIVE_TIMEOUT_SEC: float = Field(5.0, gt=0, description="An idle keep-alive connection is closed after this.")
    HEADER_TIMEOUT_SEC: float = Field(
        10.0, gt=0, description="A connection must finish each request's headers within this, or it is closed."
    )
    BODY_READ_TIMEOUT_SEC: float = Field(
        30.0, gt=0, description="Longest wait for the next piece of a request body; a stalled upload gets 408."
    )
    WS_PING_INTERVAL_SEC: float = Field(20.0, gt=0, description="WebSocket keepalive ping interval.")
    WS_PING_TIMEOUT_SEC: float = Field(
        300.0,
        gt=0,
        description="Wait for a pong. Long on purpose: under backpressure a pong waits behind the stream's unread audio.",
    )

    # Live streams (/ws/asr)
    STREAM_MAX_STREAMS: int = Field(16, ge=1, description="Concurrent /ws/asr streams per gateway process.")
    STREAM_DIARIZE_MAX_SEC: float = Field(
        1800.0, gt=0, description="Longest /ws/asr stream with diarize=true (its audio is kept for the end)."
    )
    STREAM_MAX_SEC: float = Field(4 * 3600.0, gt=0, description="Longest stream; past it the server closes it.")
    STREAM_IDLE_TIMEOUT_SEC: float = Field(30.0, gt=0, description="A stream that sends nothing this long is closed.")
    STREAM_MIN_AUDIO_RATIO: float = Field(
        0.1,
        ge=0,
        le=1,
        description="A stream must send at least this many audio seconds per second (over STREAM_IDLE_TIMEOUT_SEC) or be closed.",
    )
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
    STREAM_SKIP_TAIL_SEC: float = Field(
        2.0,
        ge=0,
        le=30,
        description="A partial decode leaves audio after Whisper's last timestamp undecoded when shorter than this (the next update has it).",
    )
    STREAM_NO_SPEECH_PROB: float = Field(
        0.6, ge=0, le=1, description="Segments the model itself thinks are not speech above this are dropped."
    )

    # Model server
    TORCHSERVE_URL: str = Field("http://127.0.0.1:8080", description="TorchServe inference API.")
    TORCHSERVE_MANAGEMENT_URL: str = Field(
        "http://127.0.0.1:8081",
        description="TorchServe management API, read by /ready only (behind ts_gate: the same URL as TORCHSERVE_URL).",
    )
    TORCHSERVE_TOKEN: str = Field(
        "",
        description="Bearer token for TorchServe's gate (ts_gate) in a deployment; empty: TorchServe is on loopback.",
    )
    TORCHSERVE_CONNECT_TIMEOUT_SEC: float = Field(3.0, gt=0, description="Connect timeout to TorchServe.")
    TORCHSERVE_TIMEOUT_SEC: float = Field(
        120.0, gt=0, description="Longest wait for one model answer; past it the client gets 504."
    )
    TORCHSERVE_RETRY_SEC: float = Field(
        20.0,
        ge=0,
        description="How long a model call is retried while TorchServe has no worker (a worker restarting); 0: never.",
    )
    TORCHSERVE_MAX_BODY_BYTES: int = Field(
        16 * MiB - 64 * 1024,
        ge=64 * 1024,
        description="Largest audio part sent in one model request: TorchServe's max_request_size less the envelope.",
    )
    TORCHSERVE_MAX_CONNECTIONS: int = Field(64, ge=1, description="Connection pool size of the shared HTTP client.")
    ASR_MODEL: str = Field("whisper", description="TorchServe model name for ASR.")
    ENHANCER_MODEL: str = Field("enhancer", description="TorchServe model name for denoising.")
    SPEAKER_MODEL: str = Field("speaker-embedding", description="TorchServe model name for speaker embeddings.")

    # Enhancement
    ENHANCE_MAX_SEC: float = Field(
        120.0,
        gt=0,
        le=600,
        description="Longest audio /audio/enhance takes (sent in ENHANCE_PIECE_SEC spans, at its own rate).",
    )

    ENHANCE_PIECE_SEC: float = Field(
        30.0,
        ge=2,
        le=60,
        description="Longest span sent to the enhancer in one request; longer audio goes in overlapping spans.",
    )

    # Speakers
    SPEAKER_THRESHOLD: float = Field(
        0.72, ge=-1, le=1, description="Cosine score at or above which two voices are the same speaker (EER point)."
    )
    DATABASE_URL: str = Field(
        "sqlite:///var/speakers.db",
        description="SQLAlchemy URL of the speaker store and the jobs (PostgreSQL when scaled out).",
    )
    DIARIZE_MERGE_THRESHOLD: float = Field(
        0.62,
        ge=-1,
        le=1,
        description="Diarization without a speaker count: clusters of windows merge while their average cosine is above this.",
    )
    SPEAKER_MAX_AUDIO_SEC: float = Field(
        120.0,
        ge=2,
        le=300,
        description="Longest part of a clip embedded for verification or enrollment; longer clips are cut there.",
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

    # Jobs and webhooks
    JOB_WORKERS: int = Field(
        1, ge=0, le=16, description="Jobs this replica works at once (0: it only takes and answers jobs)."
    )
    JOB_MAX_QUEUED: int = Field(
        20, ge=1, description="Jobs a tenant may have queued or running at once; past it POST /jobs/* gets 429."
    )
    JOB_TTL_SEC: float = Field(
        7 * 86400.0, gt=0, description="Finished jobs, their results and their audio are deleted this long after."
    )
    JOB_LEASE_SEC: float = Field(
        30.0,
        ge=1,
        description="A replica holds a running job this long between renewals; a dead replica's job resumes elsewhere after it.",
    )
    JOB_POLL_SEC: float = Field(1.0, gt=0, le=60, description="How often an idle replica looks for queued jobs.")
    JOB_MAX_ATTEMPTS: int = Field(
        3, ge=1, description="Times a job may be taken up (after crashes or a model server away) before it fails."
    )
    JOB_RETRY_SEC: float = Field(
        5.0, ge=0, description="A job the model server failed waits this long before its next try (doubled each time)."
    )
    WEBHOOK_SECRET: str = Field(
        "", description="HMAC-SHA256 key that signs webhook deliveries; callback_url is refused while it is empty."
    )
    WEBHOOK_ALLOW_PRIVATE: bool = Field(
        False,
        description="Allow callback URLs on loopback, private and link-local addresses (off: no server-side request forgery).",
    )
    WEBHOOK_TIMEOUT_SEC: float = Field(10.0, gt=0, le=120, description="Time allowed for one webhook try.")
    WEBHOOK_MAX_TRIES: int = Field(6, ge=1, le=20, description="Tries per webhook delivery before it is failed.")
    WEBHOOK_BACKOFF_SEC: float = Field(
        2.0, ge=0, description="Wait after the first failed try; doubled after each further one (at most 5 min)."
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
    FILES_QUOTA_BYTES: int = Field(
        0,
        ge=0,
        description="Bytes of stored files (uploads and results) per tenant; past it uploads get 507 (0: none).",
    )
    FILES_TTL_SEC: float = Field(
        0, ge=0, description="Stored files (uploads and results) older than this are deleted (0: kept until deleted)."
    )
    MAX_FILENAME_CHARS: int = Field(128, ge=16, le=255, description="Longest stored file name.")
    MIN_BYTES_PER_AUDIO_SEC: float = Field(
        256.0,
        gt=0,
        description="An upload may decode to at most 1 s + its size / this many seconds: a guard against decode bombs.",
    )
    MAX_AUDIO_SEC_IN_FLIGHT: float = Field(
        4 * 3600.0,
        gt=0,
        description="Audio seconds this process decodes and transcribes at once; past it requests wait, then get 503.",
    )
    BUSY_WAIT_SEC: float = Field(
        10.0, ge=0, description="How long a request waits for room under MAX_AUDIO_SEC_IN_FLIGHT before its 503."
    )
    MAX_CONCURRENT_DECODES: int = Field(4, ge=1, description="Audio decodes running at once in worker threads.")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Limits that only make sense together: fail at start-up, saying which, not mid-request."""
        problems = []
        if self.MIC_DEFAULT_SEC > self.MIC_MAX_SEC:
            problems.append("MIC_DEFAULT_SEC must not exceed MIC_MAX_SEC")
        if self.STREAM_TRIM_SEC > self.ASR_WINDOW_SEC:
            problems.append("STREAM_TRIM_SEC must not exceed ASR_WINDOW_SEC")
        if self.ASR_WINDOW_SEC > self.STREAM_MAX_BUFFER_SEC:
            problems.append("ASR_WINDOW_SEC must not exceed STREAM_MAX_BUFFER_SEC")
        try:
            parse_api_keys(self.API_KEYS)
        except InvalidRequest as exc:
            problems.append(exc.detail)
        if self.TORCHSERVE_TOKEN:
            try:
                check_gate_token(self.TORCHSERVE_TOKEN, "TORCHSERVE_TOKEN")
            except ValueError as exc:
                problems.append(str(exc))
        if self.WEBHOOK_SECRET and (len(self.WEBHOOK_SECRET) < 16 or is_placeholder(self.WEBHOOK_SECRET)):
            problems.append("WEBHOOK_SECRET must be at least 16 characters and not the shipped placeholder")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
