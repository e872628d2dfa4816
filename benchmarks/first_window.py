"""Batched first windows in-process, one run: ``python -m benchmarks.first_window``.

The whisper handler's engine on 8 clips (4 short clips twice) decoded as one TorchServe batch would be,
with ``batch_first_window`` off and on, for file-piece options (beam 5) and stream options (greedy,
fitted windows, VAD, word times, a prompt and a token cap); and the speaker encoder on 8 clips one by one
and as one batch. Prints seconds and whether the transcripts are identical. Greedy clips are batched on a
GPU only (``first_window.greedy_batches``); here the stream decodes are also run batched as a GPU would,
to show why not on a CPU.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import partial

import handlers.whisper.first_window as first_window
from handlers.speaker_embedding.embedding import SpeakerConfig, SpeakerEncoder
from handlers.whisper.asr import WhisperASR, WhisperConfig
from scripts.paths import DATA_DIR, ROOT
from wire.audio import read_audio_file
from wire.options import DecodeOptions

CLIPS = [
    ("openai__whisper/jfk.flac", "en"),
    ("mozilla__DeepSpeech/ru.wav", "ru"),
    ("ekhodzitsky__gigastt/golos_fixtures/golos_12.wav", "ru"),
    ("ggerganov__whisper.cpp_pr2824_hifitts6097/audio/presentpictureofnsw_05_mann_0592.wav", "en"),
]
OPTIONS: dict[str, Callable[[str], DecodeOptions]] = {
    "file pieces (beam 5)": lambda lang: DecodeOptions(language=lang),
    "stream decodes (greedy, fitted)": lambda lang: DecodeOptions(
        language=lang,
        beam_size=1,
        temperature=0.0,
        word_timestamps=True,
        vad_filter=True,
        fit_window=True,
        initial_prompt="Well,",
        max_new_tokens=200,
    ),
}


def _timed(run: Callable[[], object]) -> tuple[float, object]:
    run()  # warm-up
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main() -> None:
    asr = WhisperASR(WhisperConfig(), base_dir=str(ROOT / "model-store" / "whisper"))
    audio = [(read_audio_file(DATA_DIR / name, 16000).samples, lang) for name, lang in CLIPS] * 2
    first_window.greedy_batches = lambda model: True  # batched as a GPU would, to compare with side by side
    for label, options in OPTIONS.items():
        jobs = [(a, options(lang)) for a, lang in audio]
        seconds, texts = {}, {}
        for batched in (False, True):
            asr.config = dataclasses.replace(asr.config, batch_first_window=batched)
            seconds[batched], results = _timed(partial(asr.transcribe_many, jobs))
            texts[batched] = [getattr(r, "text", r) for r in results]  # type: ignore[attr-defined]
        same = texts[True] == texts[False]
        print(f"{label}: one by one {seconds[False]:.2f} s, batched {seconds[True]:.2f} s, same transcripts: {same}")
    encoder = SpeakerEncoder(SpeakerConfig(), base_dir=str(ROOT / "model-store" / "speaker-embedding"))
    clips = [
        read_audio_file(p, 16000).samples for p in sorted((DATA_DIR / "resemble-ai__Resemblyzer").rglob("*.flac"))[:8]
    ]
    alone, _ = _timed(lambda: [encoder.embed(c) for c in clips])
    together, _ = _timed(lambda: encoder.embed_many(clips))
    print(
        f"speaker embeddings of {len(clips)} clips ({sum(map(len, clips)) / 16000:.0f} s): one by one {alone:.3f} s, one batch {together:.3f} s"
    )


if __name__ == "__main__":
    main()
