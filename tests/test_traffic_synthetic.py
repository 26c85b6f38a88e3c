"""Synthetic traffic: the deadband filter, determinism, and statistics close to the
real traces (read from ../shared, skipped where it is absent)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from difsched_jax.traffic import PRESETS, get_trace, synthetic_trace, trace_stats
from difsched_jax.traffic.deadband import (
    deadband_counts,
    deadband_recordings,
    deadband_reference,
    upsample_linear,
)
from difsched_jax.traffic.markov import transition_matrix
from difsched_jax.traffic.predictor import causal_forecast, context_prediction
from difsched_jax.traffic.trace import Trace

# tolerances of the issue: mean ±15 %, std ±25 %, correlations ±0.1
REL_TOL = {"mean": 0.15, "std": 0.25}
ABS_TOL = {"lag1": 0.1, "pred_corr": 0.1, "pred_corr_prev": 0.1}


@pytest.mark.parametrize("delta", [0.0, 0.001, 0.012, 0.1])
@pytest.mark.parametrize("dim", [1, 3])
def test_vectorised_deadband_matches_the_loop(delta, dim):
    rng = np.random.default_rng(dim)
    base = 0.5 + np.cumsum(rng.normal(0, 0.004, (4, 80, dim)), axis=1)
    base[1, 20:50] = base[1, 20]  # a still stretch: nothing sent
    base[2, 10:30] = 0.0  # zero signal: threshold 0, every sample sent
    recs = np.stack([upsample_linear(b) for b in base])  # (4, 791, dim)
    got = deadband_recordings(recs, delta)
    for r in range(recs.shape[0]):
        np.testing.assert_array_equal(got[r], deadband_reference(recs[r], delta))
    assert got[:, 0].all()


def test_upsample_is_linear_interpolation():
    base = np.array([[0.0, 1.0], [1.0, 3.0], [3.0, 3.0]])
    fine = upsample_linear(base)
    assert fine.shape == (21, 2)
    np.testing.assert_allclose(fine[::10], base)
    np.testing.assert_allclose(fine[5], [0.5, 2.0])


def test_counts_per_window_and_recordings():
    base = np.linspace(1.0, 2.0, 401)[:, None]  # steady ramp, 4000 fine samples
    counts = deadband_counts(base, 0.0, window=200, record_windows=5)
    np.testing.assert_array_equal(counts, np.full(20, 200.0))  # delta 0: all sent
    still = deadband_counts(np.ones((401, 3)), 0.5, window=200, record_windows=5)
    np.testing.assert_array_equal(still, np.tile([1.0, 0, 0, 0, 0], 4))  # first of each


@pytest.mark.parametrize("flow", sorted(PRESETS))
def test_deterministic_valid_and_fast(flow):
    start = time.process_time()
    a = synthetic_trace(flow, seed=3)
    elapsed = time.process_time() - start
    b = synthetic_trace(flow, seed=3)
    c = synthetic_trace(flow, seed=4)
    for split in ("train", "test"):
        for x, y in zip(a.split(split), b.split(split)):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.train_actual, c.train_actual)
    assert a.train_actual.shape == (3120,) and a.test_actual.shape == (2080,)
    assert np.all(a.train_actual == np.floor(a.train_actual))  # packet counts
    assert elapsed < 5.0, f"a default trace took {elapsed:.2f} s of CPU"


@pytest.mark.parametrize("flow", sorted(PRESETS))
@pytest.mark.parametrize("window, num_train, num_test", [(50, 40, 30), (7, 2, 2), (1000, 12, 5)])
def test_other_window_and_sizes(flow, window, num_train, num_test):
    trace = synthetic_trace(flow, window=window, num_train=num_train, num_test=num_test, seed=1)
    assert trace.window == window
    assert trace.train_actual.shape == (num_train,) and trace.test_actual.shape == (num_test,)
    for split in ("train", "test"):
        for counts in trace.split(split):
            assert counts.min() >= 0 and counts.max() <= window


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        synthetic_trace("thumb_xx")
    with pytest.raises(ValueError, match="at least 2 windows"):
        synthetic_trace("thumb_fr", num_train=1)


def test_get_trace_defaults_to_synthetic():
    trace = get_trace("thumb_fr", 200, None, seed=0)
    assert trace.name.startswith("synthetic:thumb_fr")


def test_predictors():
    rng = np.random.default_rng(0)
    actual = rng.integers(0, 100, 50).astype(float)
    pred = context_prediction(actual, actual + rng.normal(0, 1, 50), 30, 100)
    assert np.corrcoef(pred, actual)[0, 1] > 0.99 and pred.min() >= 0 and pred.max() <= 100
    ses = causal_forecast(np.array([4.0, 8.0, 0.0]), alpha=0.5)
    np.testing.assert_allclose(ses, [4.0, 4.0, 6.0])  # uses past counts only


def test_markov_matrix_of_synthetic_trace():
    trace = synthetic_trace("thumb_fr", num_train=200, num_test=10)
    m = transition_matrix(trace.train_actual, trace.window)
    rows = m.sum(axis=1)
    assert m.shape == (201, 201) and np.allclose(rows[rows > 0], 1.0)


@pytest.mark.parametrize("flow", sorted(PRESETS))
def test_statistics_resemble_the_real_trace(traffic_dir, flow):
    real = trace_stats(Trace.load(traffic_dir / f"{flow}_window200.npz"), "train")
    for seed in (0, 1, 2):
        syn = trace_stats(synthetic_trace(flow, seed=seed), "train")
        for key, tol in REL_TOL.items():
            assert abs(syn[key] / real[key] - 1) <= tol, (flow, seed, key, syn[key], real[key])
        for key, tol in ABS_TOL.items():
            assert abs(syn[key] - real[key]) <= tol, (flow, seed, key, syn[key], real[key])
