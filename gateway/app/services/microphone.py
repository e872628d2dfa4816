"""The server's own input device, via sounddevice (PortAudio). Trusted deployments only.

PortAudio is loaded lazily: a gateway without it (most containers) still starts,
and only this endpoint answers 503.
"""

from __future__ import annotations

import threading

import numpy as np

from gateway.core.errors import DeviceBusy, DeviceUnavailable
from wire.pcm import from_pcm16

__all__ = ["Microphone"]


class Microphone:
    def __init__(self, sample_rate: int, device: str | None = None) -> None:
        self.sample_rate = sample_rate
        self.device: str | int | None = int(device) if device and device.isdigit() else device
        self._busy = threading.Lock()

    def record(self, seconds: float) -> np.ndarray:
        """Record ``seconds`` of mono float32 at ``sample_rate``; blocks for that long."""
        if not self._busy.acquire(blocking=False):
            raise DeviceBusy("the microphone is already recording")
        try:
            try:
                import sounddevice as sd
            except OSError as exc:  # libportaudio missing
                raise DeviceUnavailable("no audio input: PortAudio is not installed on the server") from exc
            try:
                # PCM16 is what every capture device (and ALSA's file plugin) delivers natively.
                sd.check_input_settings(device=self.device, channels=1, samplerate=self.sample_rate, dtype="int16")
                frames = int(seconds * self.sample_rate)
                audio = sd.rec(frames, samplerate=self.sample_rate, channels=1, dtype="int16", device=self.device)
                sd.wait()
            except (sd.PortAudioError, ValueError) as exc:
                raise DeviceUnavailable("no usable audio input device on the server") from exc
            return from_pcm16(audio[:, 0].astype("<i2").tobytes())
        finally:
            self._busy.release()
