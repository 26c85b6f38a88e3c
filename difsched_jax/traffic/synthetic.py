"""Synthetic haptic traffic, the default everywhere (no file needed).

PLACEHOLDER: an AR(1) stand-in until the motion -> deadband -> counts model lands.
"""

from __future__ import annotations

import numpy as np

from difsched_jax.traffic.trace import Trace

PRESETS = ("thumb_fr", "thumb_bk")


def synthetic_trace(
    flow: str = "thumb_fr",
    window: int = 200,
    num_train: int = 3120,
    num_test: int = 2080,
    seed: int = 0,
) -> Trace:
    if flow not in PRESETS:
        raise ValueError(f"unknown synthetic preset {flow!r}; known: {PRESETS}")
    rng = np.random.default_rng(seed)
    n = num_train + num_test
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = 0.65 * x[t - 1] + rng.normal()
    counts = np.clip(51 + 28 * x / x.std(), 0, window)
    pred = np.clip(counts + rng.normal(0, 25, n), 0, window)
    return Trace(
        counts[:num_train],
        pred[:num_train],
        counts[num_train:],
        pred[num_train:],
        window,
        f"synthetic:{flow}",
    )
