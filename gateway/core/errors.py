"""Domain errors, named for what happened. Each maps to exactly one HTTP status in app/api/errors.py.

Errors about the audio or the options themselves are ``wire.errors.WireError`` (their
kind says invalid audio, invalid request, too long, ...): the decoder and the model
handlers raise the same ones, so a bad upload reads the same wherever it is found.
"""

from __future__ import annotations

__all__ = [
    "AudioCoreError",
    "ClientGone",
    "DeviceBusy",
    "DeviceUnavailable",
    "FeatureDisabled",
    "FileNotFound",
    "InvalidRequest",
    "JobConflict",
    "JobNotFound",
    "ModelError",
    "ModelTimeout",
    "ModelUnavailable",
    "ServerBusy",
    "SpeakerMismatch",
    "SpeakerNotFound",
    "SpeakerStoreFull",
    "StorageFull",
    "TooManyJobs",
    "UploadTooLarge",
]


class AudioCoreError(Exception):
    """Base class: ``detail`` is safe to show to the client."""

    detail = "request failed"
    extra: dict[str, object] | None = None  # machine-readable fields sent beside ``detail``

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail


class InvalidRequest(AudioCoreError):
    detail = "invalid request"


class UploadTooLarge(AudioCoreError):
    detail = "upload is too large"


class FileNotFound(AudioCoreError):
    detail = "File not found"


class SpeakerNotFound(AudioCoreError):
    detail = "speaker not enrolled"


class SpeakerMismatch(AudioCoreError):
    """A new enrollment sample does not sound like the speaker it is added to (409, with the score)."""

    def __init__(self, speaker_id: str, score: float, threshold: float) -> None:
        super().__init__(
            f"the sample scores {score:.3f} against speaker '{speaker_id}' (threshold {threshold:g}): refused as "
            "another voice; send replace=true to start this speaker over"
        )
        self.score = round(score, 4)
        self.extra = {"score": self.score, "threshold": threshold}


class SpeakerStoreFull(AudioCoreError):
    """The speaker (or the store) holds as many samples (speakers) as it may."""

    detail = "speaker store limit reached"


class StorageFull(AudioCoreError):
    """The tenant's file quota is used up (507)."""

    detail = "storage quota reached"


class DeviceBusy(AudioCoreError):
    detail = "the microphone is already recording"


class FeatureDisabled(AudioCoreError):
    detail = "this feature is disabled on this server"


class DeviceUnavailable(AudioCoreError):
    detail = "audio device unavailable"


class JobNotFound(AudioCoreError):
    """No such job for this tenant (another tenant's job reads exactly the same)."""

    detail = "job not found"


class JobConflict(AudioCoreError):
    """The job is not in a state that allows this (409, with its status)."""

    def __init__(self, detail: str, status: str) -> None:
        super().__init__(detail)
        self.extra = {"status": status}


class TooManyJobs(AudioCoreError):
    """The tenant already has JOB_MAX_QUEUED jobs waiting or running (429 with Retry-After)."""

    def __init__(self, detail: str, retry_after: int = 30) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServerBusy(AudioCoreError):
    """Too much audio in flight in this process: try again shortly (503 with Retry-After)."""

    detail = "server busy"

    def __init__(self, detail: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ClientGone(AudioCoreError):
    """The caller disconnected; its work was cancelled (answered 499, which nobody reads)."""

    detail = "client closed the request"


class ModelUnavailable(AudioCoreError):
    detail = "model server unavailable"


class ModelTimeout(AudioCoreError):
    detail = "model server timed out"


class ModelError(AudioCoreError):
    detail = "model server error"
