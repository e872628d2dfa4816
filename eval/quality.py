"""Signal-quality helpers and the clean/noisy pairs of shared/data, for `make eval` and the tests."""

from __future__ import annotations

import numpy as np

# (clean, noisy) under shared/data; Valentini pairs at 16 kHz, DeepFilterNet's own pair at 48 kHz (0 dB SNR)
PAIRS = [
    *(
        (
            f"facebookresearch__denoiser/valentini_clean/p287_00{i}.wav",
            f"facebookresearch__denoiser/valentini_noisy/p287_00{i}.wav",
        )
        for i in (1, 2, 3)
    ),
    ("Rikorose__DeepFilterNet/clean_freesound_33711.wav", "Rikorose__DeepFilterNet/noisy_snr0.wav"),
]


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB."""
    n = min(len(reference), len(estimate))
    ref = reference[:n] - reference[:n].mean()
    est = estimate[:n] - estimate[:n].mean()
    target = np.dot(est, ref) / np.dot(ref, ref) * ref
    noise = est - target
    return float(10 * np.log10(np.dot(target, target) / np.dot(noise, noise)))
