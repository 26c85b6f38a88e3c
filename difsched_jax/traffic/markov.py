"""Empirical transition matrix of a count trace (the "markov" traffic type, SPEC §1/§3)."""

from __future__ import annotations

import numpy as np


def transition_counts(counts, window: int) -> np.ndarray:
    """(L+1, L+1) number of observed transitions u_t -> u_{t+1} (counts floored)."""
    c = np.floor(np.asarray(counts)).astype(np.int64)
    m = np.zeros((window + 1, window + 1))
    np.add.at(m, (c[:-1], c[1:]), 1.0)
    return m


def transition_matrix(counts, window: int) -> np.ndarray:
    """(L+1, L+1) row-normalised transition counts; never-seen rows stay all zero."""
    m = transition_counts(counts, window)
    rows = m.sum(axis=1, keepdims=True)
    return np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)


def transition_cdf(counts, window: int) -> np.ndarray:
    """(L+1, L+1) float32 row CDFs of `transition_matrix` (last entry exactly 1 on seen rows)."""
    probs = transition_matrix(counts, window)
    cdf = np.cumsum(probs, axis=1)
    cdf[probs.sum(axis=1) > 0, -1] = 1.0
    return cdf.astype(np.float32)
