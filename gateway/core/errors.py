"""Domain errors. Each maps to exactly one HTTP status in app/api/errors.py."""

from __future__ import annotations

__all__ = [
    "AudioCoreError",
    "AudioTooLong",
    "Conflict",
    "DeviceUnavailable",
    "FileNotFound",
    "Forbidden",
    "InvalidAudio",
    "InvalidRequest",
    "ModelError",
    "ModelTimeout",
    "ModelUnavailable",
    "SpeakerNotFound",
    "UnsupportedLanguage",
    "UploadTooLarge",
]


class AudioCoreError(Exception):
    """Base class: ``detail`` is safe to show to the client."""

    detail = "request failed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail


class InvalidRequest(AudioCoreError):
    detail = "invalid request"


class InvalidAudio(InvalidRequest):
    detail = "invalid or unsupported audio"


class UnsupportedLanguage(InvalidRequest):
    detail = "unsupported language"


class AudioTooLong(AudioCoreError):
    detail = "audio is too long"


class UploadTooLarge(AudioCoreError):
    detail = "upload is too large"


class FileNotFound(AudioCoreError):
    detail = "File not found"


class SpeakerNotFound(AudioCoreError):
    detail = "speaker not enrolled"


class Conflict(AudioCoreError):
    detail = "conflict"


class Forbidden(AudioCoreError):
    detail = "forbidden"


class DeviceUnavailable(AudioCoreError):
    detail = "audio device unavailable"


class ModelUnavailable(AudioCoreError):
    detail = "model server unavailable"


class ModelTimeout(AudioCoreError):
    detail = "model server timed out"


class ModelError(AudioCoreError):
    detail = "model server error"
