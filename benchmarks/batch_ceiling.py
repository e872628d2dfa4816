"""What batching can save of a beam-5 file decode on this machine, compute only: ``python -m benchmarks.batch_ceiling``.

The whisper handler batches the first window of a TorchServe batch's clips (``first_window.py``). On a
CPU, where both cores are busy either way at 8 clients, batching can only win what a batched call
saves in CPU time. This times CTranslate2's two calls on one thread (so no thread waits on another):
the encoder on full 30 s windows, one at a time and stacked, and the beam-5 ``generate`` over those
encoder outputs, one clip at a time and as one call; then prints the CPU seconds per clip each way and
the best ratio batching could reach, (encode + generate alone) / (cheaper encode + batched generate).
The service's measured on ÷ off (``make bench``) also carries scheduling effects this leaves out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from benchmarks.first_window import CLIPS
from scripts.paths import DATA_DIR, WHISPER_WEIGHTS
from wire.audio import read_audio_file

BATCHES = (4, 8)  # the whisper model's TorchServe batchSize, and twice that
ROUNDS = 3  # timed runs of each; the fastest counts


def _fastest(run: Callable[[], object]) -> float:
    run()  # warm-up
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    model = WhisperModel(str(WHISPER_WEIGHTS), device="cpu", compute_type="int8", cpu_threads=1, num_workers=1)
    windows, prompts = [], []
    for name, language in (CLIPS * 2)[: max(BATCHES)]:  # 4 clips of 4-11 s, English and Russian
        features = model.feature_extractor(read_audio_file(DATA_DIR / name, 16000).samples, chunk_length=None)
        windows.append(np.ascontiguousarray(pad_or_trim(features[:, :-1]), dtype=np.float32))
        tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=language)
        prompts.append(model.get_prompt(tokenizer, [], without_timestamps=False, prefix=None))
    suppress = list(get_suppressed_tokens(tokenizer, [-1]))

    def encode(stacked: list[np.ndarray]) -> ctranslate2.StorageView:
        return model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(stacked))))

    def generate(encoded: ctranslate2.StorageView, rows: list[list[int]]) -> object:
        return model.model.generate(  # faster-whisper's beam-5 settings for a file's first window
            encoded,
            rows,
            beam_size=5,
            patience=1,
            length_penalty=1,
            max_length=448,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=suppress,
            max_initial_timestamp_index=50,
        )

    singles = [encode([w]) for w in windows]

    def measure(n: int) -> None:
        stacked = encode(windows[:n])
        encode_alone = _fastest(lambda: [encode([w]) for w in windows[:n]]) / n
        encode_batched = _fastest(lambda: encode(windows[:n])) / n
        generate_alone = _fastest(lambda: [generate(e, [p]) for e, p in zip(singles[:n], prompts, strict=False)]) / n
        generate_batched = _fastest(lambda: generate(stacked, prompts[:n])) / n
        alone = encode_alone + generate_alone
        batched = min(encode_alone, encode_batched) + generate_batched
        print(f"CPU seconds per clip, one thread, {n} clips, full 30 s windows, beam 5:")
        print(f"  encode   {encode_alone:.3f} alone, {encode_batched:.3f} in one batch")
        print(f"  generate {generate_alone:.3f} alone, {generate_batched:.3f} in one batch")
        print(f"  decode   {alone:.3f} alone, {batched:.3f} batched: at most {alone / batched:.2f}x from batching")

    for n in BATCHES:
        measure(n)


if __name__ == "__main__":
    main()
