"""Should file pieces use fitted encoder windows? ``python -m eval.fit_window [PAD_SEC ...]``.

WER of the shared English and Russian clips of at most 28 s (beam 5, language given), in-process on
the whisper handler's engine, with Whisper's full 30 s window and with the window fitted to the audio
plus each padding. Issue #13's rule: fit file pieces only if neither language loses more than 0.3 points.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from eval.textnorm import wer
from handlers.whisper.asr import WhisperASR, WhisperConfig
from scripts.paths import ROOT
from tests.conftest import manifest
from wire.audio import read_audio_file
from wire.options import DecodeOptions


def main() -> None:
    pads = [float(a) for a in sys.argv[1:]] or [5.0]
    clips = [
        c
        for c in manifest()
        if c.transcript and c.language in ("en", "ru") and c.duration <= 28 and "LEFT:" not in c.transcript
    ]
    audio = [read_audio_file(c.path, 16000).samples for c in clips]
    for pad in [None, *pads]:
        config = WhisperConfig() if pad is None else dataclasses.replace(WhisperConfig(), fit_window_pad_sec=pad)
        asr = WhisperASR(config, base_dir=str(ROOT / "model-store" / "whisper"))
        refs: dict[str, list[str]] = {"en": [], "ru": []}
        hyps: dict[str, list[str]] = {"en": [], "ru": []}
        started = time.perf_counter()
        for clip, samples in zip(clips, audio, strict=True):
            result = asr.transcribe(samples, DecodeOptions(language=clip.language, fit_window=pad is not None))
            refs[clip.language].append(clip.transcript)
            hyps[clip.language].append(result.text)
        scores = ", ".join(f"{lang} {wer(refs[lang], hyps[lang], lang):.2%}" for lang in refs)
        label = "full 30 s window" if pad is None else f"fitted, {pad:g} s padding"
        print(f"{label}: {len(clips)} clips, WER {scores}, {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
