"""Speaker embeddings with Resemblyzer's GE2E encoder.

GE2E (a 3-layer LSTM over 40 mel bands, trained with the generalized end-to-end
loss) maps an utterance to a 256-d unit vector whose cosine with another
speaker's is low; it is small enough for CPU and its weights ship with the
``resemblyzer`` package. Silence is trimmed with WebRTC VAD first, so the
embedding describes the voiced part only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wire.envelope import MODEL_SAMPLE_RATE
from wire.errors import ErrorKind, WireError

__all__ = ["SAMPLE_RATE", "SpeakerConfig", "SpeakerEncoder", "speech_mask"]

SAMPLE_RATE = MODEL_SAMPLE_RATE


@dataclass(frozen=True)
class SpeakerConfig:
    """``handler:`` block of the speaker-embedding model-config.yaml, env ``SPEAKER_*``."""

    weights_path: str = "ge2e/pretrained.pt"  # relative to the archive or absolute; '' = resemblyzer's own
    device: str = "auto"  # auto | cpu | cuda
    cpu_threads: int = 1  # torch intra-op threads (0 = torch default); GE2E is small: 1 leaves cores to Whisper
    min_voiced_sec: float = 0.5  # less voiced audio than this is rejected, not embedded
    min_span_voiced_sec: float = 0.4  # a span of a clip (diarization window) with less voice is left out
    min_span_speech_fraction: float = 0.5  # ... and one that Silero VAD finds mostly not speech
    max_audio_sec: float = 300.0


class SpeakerEncoder:
    def __init__(self, config: SpeakerConfig, base_dir: str = ".") -> None:
        import torch
        from resemblyzer import VoiceEncoder, preprocess_wav

        if config.cpu_threads:
            torch.set_num_threads(config.cpu_threads)
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        weights = None
        if config.weights_path:
            weights = Path(config.weights_path)
            if not weights.is_absolute():
                weights = Path(base_dir) / weights
        self.config = config
        self.device = device
        self.encoder = VoiceEncoder(device=device, verbose=False, weights_fpath=weights)
        # The first mel/VAD pass compiles librosa's numba kernels (~2 s): pay it at load, not on a request.
        tone = 0.1 * np.sin(np.linspace(0, 2000 * np.pi, 2 * SAMPLE_RATE, dtype=np.float32))
        self.encoder.embed_utterance(preprocess_wav(tone, source_sr=SAMPLE_RATE))

    def embed(self, audio: np.ndarray) -> dict[str, object]:
        """256-d L2-normalised embedding of the voiced part of 16 kHz mono audio."""
        result = self.embed_many([audio])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def embed_many(
        self, audios: list[np.ndarray], min_voiced: list[float | None] | None = None
    ) -> list[dict[str, object] | Exception]:
        """Embeddings of many clips with one forward pass of the network over all their partials.

        GE2E embeds an utterance as the mean of 1.6 s partial windows; the windows of every clip of
        a TorchServe batch go through the LSTM together, then are averaged per clip. A clip with no
        speech gets its own error; the others are unaffected.
        """
        import torch
        from resemblyzer import audio as mel_audio

        least = min_voiced or [self.config.min_voiced_sec] * len(audios)
        prepared: list[tuple[np.ndarray, float] | Exception] = [
            # None: already known not to be speech, no VAD pass spent on it
            self._voiced(a, n) if n is not None else _NOT_SPEECH
            for a, n in zip(audios, least, strict=True)
        ]
        mels: list[np.ndarray] = []
        counts: list[int] = []
        for item in prepared:
            if isinstance(item, Exception):
                counts.append(0)
                continue
            wav = item[0]
            wav_slices, mel_slices = self.encoder.compute_partial_slices(len(wav), _PARTIAL_RATE, _MIN_COVERAGE)
            wav = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
            mel = mel_audio.wav_to_mel_spectrogram(wav)
            mels += [mel[s] for s in mel_slices]
            counts.append(len(mel_slices))
        partials = np.zeros((0, 256), np.float32)
        if mels:
            with torch.no_grad():
                partials = self.encoder(torch.from_numpy(np.stack(mels)).to(self.device)).cpu().numpy()
        results: list[dict[str, object] | Exception] = []
        start = 0
        for item, n in zip(prepared, counts, strict=True):
            if isinstance(item, Exception):
                results.append(item)
                continue
            vector = partials[start : start + n].mean(axis=0)
            start += n
            norm = float(np.linalg.norm(vector))
            if not np.isfinite(norm) or norm == 0.0:
                results.append(WireError(ErrorKind.INVALID_AUDIO, "no speech found"))
                continue
            results.append({"embedding": (vector / norm).astype(np.float32).tolist(), "voiced_sec": round(item[1], 3)})
        return results

    def _voiced(self, audio: np.ndarray, min_voiced_sec: float) -> tuple[np.ndarray, float] | Exception:
        """The voiced part (WebRTC VAD) and its length, or the error that refuses the clip."""
        from resemblyzer import preprocess_wav

        if len(audio) > self.config.max_audio_sec * SAMPLE_RATE:
            return WireError(ErrorKind.TOO_LONG, f"audio longer than {self.config.max_audio_sec:g} s")
        if not np.any(audio):
            return WireError(ErrorKind.INVALID_AUDIO, "no speech found: the audio is silent")
        voiced = preprocess_wav(audio.astype(np.float32), source_sr=SAMPLE_RATE)
        voiced_sec = len(voiced) / SAMPLE_RATE
        if voiced_sec < min_voiced_sec:
            return WireError(
                ErrorKind.INVALID_AUDIO, f"no speech found: {voiced_sec:.2f} s voiced, need {min_voiced_sec:g} s"
            )
        return voiced, voiced_sec


_NOT_SPEECH = WireError(ErrorKind.INVALID_AUDIO, "no speech found: not speech")

# Resemblyzer's embed_utterance defaults: 1.3 partial windows per second, keep a last window 75 % full
_PARTIAL_RATE = 1.3
_MIN_COVERAGE = 0.75


def speech_mask(audio: np.ndarray) -> np.ndarray:
    """Per sample: inside speech according to Silero VAD (the model faster-whisper ships)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    mask = np.zeros(len(audio), dtype=bool)
    for chunk in get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=300, speech_pad_ms=100)):
        mask[chunk["start"] : chunk["end"]] = True
    return mask
