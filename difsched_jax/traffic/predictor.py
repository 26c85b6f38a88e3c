"""Traffic predictors that make a trace's *predicted* counts.

The reference's predicted traces came from a learned, context-assisted predictor.
The synthetic default mimics it (`context_prediction`): a linear map, fitted by
least squares on the train split only, from a *context* count (the traffic the
predictor expects from what it knows of the task, see `synthetic.py`) and
optionally the previous window's count. `causal_forecast` is the simplest
alternative, exponential smoothing of past counts only.
"""

from __future__ import annotations

import numpy as np


def previous_counts(counts: np.ndarray) -> np.ndarray:
    """(T,) -> (T,) the count one window earlier (the first entry repeated)."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.concatenate([counts[:1], counts[:-1]])


def context_prediction(
    actual: np.ndarray,
    context: np.ndarray,
    num_train: int,
    window: int,
    use_previous: bool = False,
) -> np.ndarray:
    """(T,) predicted counts: least squares of actual on [1, context, previous actual].

    Fitted on the first `num_train` windows (the train split) and applied to all,
    clipped to [0, window]. The previous count is what a causal predictor knows at
    prediction time; the context stands for its side information.
    """
    actual = np.asarray(actual, dtype=np.float64)
    cols = [np.ones_like(actual), np.asarray(context, dtype=np.float64)]
    if use_previous:
        cols.append(previous_counts(actual))
    design = np.stack(cols, axis=1)  # (T, k)
    weights, *_ = np.linalg.lstsq(design[:num_train], actual[:num_train], rcond=None)
    return np.clip(design @ weights, 0.0, float(window))


def causal_forecast(counts: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(T,) exponential-smoothing forecast from past counts only: pred[t] = s[t-1],
    s[t] = alpha * counts[t] + (1 - alpha) * s[t-1], pred[0] = counts[0]."""
    counts = np.asarray(counts, dtype=np.float64)
    pred = np.empty_like(counts)
    level = counts[0] if counts.size else 0.0
    for t, c in enumerate(counts):
        pred[t] = level
        level = alpha * c + (1.0 - alpha) * level
    return pred
