"""Summary statistics of a trace (the README's synthetic-vs-real table comes from here)."""

from __future__ import annotations

import numpy as np

from difsched_jax.traffic.trace import Trace


def autocorrelation(x: np.ndarray, lag: int = 1) -> float:
    """Sample autocorrelation at `lag` (mean removed, normalised by the lag-0 sum)."""
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    denom = float(np.dot(x, x))
    return float(np.dot(x[:-lag], x[lag:]) / denom) if denom > 0 else 0.0


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 where either side is constant."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / denom) if denom > 0 else 0.0


def trace_stats(trace: Trace, split: str = "train") -> dict[str, float]:
    """Statistics of one split's counts.

    mean, std (population), lag1 (autocorrelation of actual counts at one window),
    pred_corr (correlation of predicted[t] with actual[t], the same-window pairing),
    pred_corr_prev (correlation of predicted[t] with actual[t-1], i.e. with the files'
    ``trafficSource_*_actual``: the pairing the reference's environment uses, see
    traffic/alignment.py), max, zero_frac (share of windows with fewer than one packet).
    """
    actual, predicted = trace.split(split)
    return {
        "windows": int(actual.shape[0]),
        "mean": float(np.mean(actual)),
        "std": float(np.std(actual)),
        "lag1": autocorrelation(actual, 1),
        "pred_corr": correlation(actual, predicted),
        "pred_corr_prev": correlation(actual[:-1], predicted[1:]),
        "max": float(np.max(actual)),
        "zero_frac": float(np.mean(actual < 1.0)),
    }
