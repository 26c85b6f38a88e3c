"""Perceptual deadband filter and per-window packet counts (SPEC §1, "Traffic").

A sample x_j is sent when ``‖x_j − x_last_sent‖ ≥ δ·‖x_last_sent‖``; the first
sample of a recording is always sent. The filter is sequential within a
recording (each decision depends on the last sent sample), so the synthetic
stream is cut into recordings, as the reference's traces are a concatenation of
separately filtered recording sessions, and all recordings are filtered at once:
one vectorised NumPy step per sample of a recording.
"""

from __future__ import annotations

import numpy as np

UPSAMPLE = 10  # SPEC: the uniform-grid signal is upsampled x10 by linear interpolation


def upsample_linear(base: np.ndarray, factor: int = UPSAMPLE) -> np.ndarray:
    """(n, d) or (n,) -> ((n-1)*factor + 1, d): `factor - 1` linearly interpolated points per step."""
    base = np.asarray(base, dtype=np.float64)
    base = base.reshape(base.shape[0], -1)
    n, d = base.shape
    w = (np.arange(factor) / factor)[None, :, None]  # (1, factor, 1)
    fine = np.empty((n, factor, d))  # row n-1 holds the last sample only
    np.multiply(w, np.diff(base, axis=0)[:, None], out=fine[:-1])
    fine[:-1] += base[:-1, None]
    fine[-1, 0] = base[-1]
    return fine.reshape(-1, d)[: (n - 1) * factor + 1] if n > 1 else base.copy()


def deadband_recordings(signals: np.ndarray, delta: float) -> np.ndarray:
    """(R, N, d) recordings, each filtered from its own start -> (R, N) bool sent mask."""
    x = np.asarray(signals, dtype=np.float64)
    if x.ndim == 2:
        x = x[..., None]
    num_rec, n, d = x.shape
    sent = np.zeros((n, num_rec), dtype=bool)
    if n == 0:
        return sent.T
    # (N, d, R): one time step is a contiguous block; in-place ops keep the loop lean
    xs = np.ascontiguousarray(x.transpose(1, 2, 0))
    thr_all = float(delta) ** 2 * np.einsum("ndr,ndr->nr", xs, xs)  # (N, R) squared thresholds
    last, thr2 = xs[0].copy(), thr_all[0].copy()  # (d, R), (R,)
    diff, dist2, s = np.empty((d, num_rec)), np.empty(num_rec), np.empty(num_rec, dtype=bool)
    sent[0] = True
    for j in range(1, n):
        np.subtract(xs[j], last, out=diff)
        np.multiply(diff, diff, out=diff)
        np.add.reduce(diff, axis=0, out=dist2)
        np.greater_equal(dist2, thr2, out=s)
        sent[j] = s
        np.copyto(last, xs[j], where=s)
        np.copyto(thr2, thr_all[j], where=s)
    return sent.T


def deadband_reference(signal: np.ndarray, delta: float) -> np.ndarray:
    """Plain sample-by-sample loop (slow): the definition the vectorised filter must match."""
    x = np.asarray(signal, dtype=np.float64).reshape(len(signal), -1)
    sent = np.zeros(x.shape[0], dtype=bool)
    if x.shape[0] == 0:
        return sent
    last = x[0]
    sent[0] = True
    for j in range(1, x.shape[0]):
        if np.linalg.norm(x[j] - last) >= delta * np.linalg.norm(last):
            sent[j] = True
            last = x[j]
    return sent


def window_counts(mask: np.ndarray, window: int) -> np.ndarray:
    """(..., N) sent mask -> (..., N // window) float64 packets per window of `window` samples."""
    mask = np.asarray(mask, dtype=bool)
    num = mask.shape[-1] // window
    per = mask[..., : num * window].reshape(*mask.shape[:-1], num, window)
    return per.sum(axis=-1).astype(np.float64)


def deadband_counts(base: np.ndarray, delta: float, window: int, record_windows: int) -> np.ndarray:
    """Base-grid signal (n, d) -> per-window counts (num_windows,) through the pipeline:
    x10 linear upsampling, cut into recordings of `record_windows` windows, deadband, count.

    Requires (n - 1) * UPSAMPLE >= window (one window at least); a trailing part that does
    not fill a whole window is dropped.
    """
    fine = upsample_linear(base)[:-1]  # (N, d): the last base sample starts no interval
    per_rec = record_windows * window
    num_windows = fine.shape[0] // window
    num_rec = -(-num_windows // record_windows)
    pad = num_rec * per_rec - fine.shape[0]
    if pad > 0:
        fine = np.concatenate([fine, np.repeat(fine[-1:], pad, axis=0)])
    recs = fine[: num_rec * per_rec].reshape(num_rec, per_rec, -1)
    counts = window_counts(deadband_recordings(recs, delta), window).reshape(-1)
    return counts[:num_windows]
