"""What a transcription was asked to do, as one value: the synchronous route and jobs share it.

A job keeps it as JSON in its row, so a replica that picks the job up after a restart does
exactly what the request asked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gateway.app.services.diarization import DiarizeOptions
from gateway.app.services.enhancement import EnhanceOptions
from wire.options import DecodeOptions

__all__ = ["TranscribeRequest"]


@dataclass(frozen=True)
class TranscribeRequest:
    options: DecodeOptions
    enhance: EnhanceOptions | None = None  # None: no denoising
    diarize: DiarizeOptions | None = None  # None: no speaker labels

    def to_json(self) -> dict[str, Any]:
        return {
            "options": self.options.to_params(),
            "enhance": None if self.enhance is None else asdict(self.enhance),
            "diarize": None if self.diarize is None else asdict(self.diarize),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscribeRequest:
        enhance, diarize = data.get("enhance"), data.get("diarize")
        return cls(
            options=DecodeOptions.parse(data.get("options") or {}),
            enhance=None if enhance is None else EnhanceOptions(**enhance),
            diarize=None if diarize is None else DiarizeOptions(**diarize),
        )
