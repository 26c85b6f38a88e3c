"""The table-inversion binomial sampler: exact distribution (chi-square against
the binomial pmf), table layout, short windows, and the fallback path."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from difsched_jax.config import EnvConfig
from difsched_jax.env import make_env
from difsched_jax.env.binomial import build_loss_tables, loss_probabilities, sample_losses
from difsched_jax.env.build import with_loss_tables
from difsched_jax.env.core import window_loss
from difsched_jax.traffic import synthetic_trace

K3, S3 = (0.1, 0.3, 0.5), (10.0, 10.0, 10.0)
DRAWS = 20_000


def _sample(tables, channel, idx, n, key):
    """DRAWS samples of one (channel, grid index, n)."""
    words = jax.random.bits(key, (DRAWS, 2, 1), jnp.uint32)
    one = lambda w: sample_losses(tables, jnp.int32(channel), jnp.array([idx]), jnp.array([n]), w)
    return np.asarray(jax.jit(jax.vmap(one))(words))[:, 0]


def _chi2_pvalue(x, n, q) -> float:
    pmf = np.array([math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(n + 1)])
    observed = np.bincount(x, minlength=n + 1)
    assert observed.size == n + 1, "a sample outside 0..n"
    expected = pmf * x.size
    big = expected >= 5  # pool the tails
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] < 1e-9:
        obs, exp = obs[:-1], exp[:-1]
    if obs.size < 2:
        return 1.0
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


@pytest.mark.parametrize(
    "window,budget,cases",
    [
        (200, 100, [(0, 3, 200), (1, 12, 51), (2, 0, 31), (1, 99, 200), (0, 40, 7), (2, 13, 64)]),
        (200, 100, [(1, 10, 0), (1, 10, 33), (0, 11, 192), (2, 11, 1), (0, 14, 96), (1, 9, 159)]),
        (20, 30, [(0, 10, 20), (1, 12, 13), (2, 0, 1)]),  # window < 32: no A*a part
        (64, 30, [(0, 10, 64), (1, 12, 40), (2, 5, 63)]),
    ],
)
def test_samples_follow_the_binomial_pmf(window, budget, cases):
    tables = build_loss_tables(K3, S3, budget, window)
    q = loss_probabilities(K3, S3, budget)
    for i, (channel, idx, n) in enumerate(cases):
        x = _sample(tables, channel, idx, n, jax.random.key(100 + i))
        assert x.min() >= 0 and x.max() <= n
        assert _chi2_pvalue(x, n, q[channel, idx]) > 1e-5, (channel, idx, n)


def test_table_layout():
    tables = build_loss_tables(K3, S3, 100, 200)
    assert tables.hi.shape == (3, 100, 7, 13, 16) and tables.lo.shape == (3, 100, 32, 32)
    hi = np.asarray(tables.hi).reshape(3, 100, 7, -1).astype(np.int64)
    lo = np.asarray(tables.lo).astype(np.int64)
    assert np.all(np.diff(hi, axis=-1) >= 0) and np.all(np.diff(lo, axis=-1) >= 0)
    assert np.all(lo[:, :, 5, 5:] == 2**32 - 1) and np.all(hi[:, :, 0] == 2**32 - 1)
    index = np.asarray(tables.hi_index)[..., :12]
    np.testing.assert_array_equal(index, hi[..., 15:192:16])
    # threshold of x = 0 for m = 1: round(2^32 (1 - q))
    q = loss_probabilities(K3, S3, 100)
    np.testing.assert_allclose(lo[:, :, 1, 0], np.round((1 - q) * 2**32).clip(max=2**32 - 1))


@pytest.mark.slow
def test_fallback_without_tables_and_rebuilt_tables():
    """Without tables, `window_loss` draws with jax.random.binomial: same mean."""
    config = EnvConfig(num_users=8, budget=100, flow="thumb_fr", sigmoid_k=K3, sigmoid_s=S3)
    spec, params = make_env(config, synthetic_trace("thumb_fr", seed=2))
    rebuilt = with_loss_tables(params.replace(loss_tables=None), spec)
    np.testing.assert_array_equal(rebuilt.loss_tables.hi, params.loss_tables.hi)
    counts = jnp.array([0, 5, 17, 40, 64, 100, 150, 200])
    granted = jnp.array([0.0, 3.5, 8.0, 10.0, 12.0, 15.0, 20.0, 31.5])
    words = jax.random.bits(jax.random.key(3), (DRAWS, 2, 8), jnp.uint32)
    channel = jnp.arange(DRAWS) % 3
    run = jax.jit(jax.vmap(window_loss, in_axes=(0, None, None, 0, None)))
    fallback = np.asarray(run(words, counts, granted, channel, params.replace(loss_tables=None))[0])
    tabled = np.asarray(run(words, counts, granted, channel, params)[0])
    q = loss_probabilities(K3, S3, 100)[:, np.ceil(np.asarray(granted)).astype(int)]  # (3, 8)
    expected = (q * np.asarray(counts)).sum(-1) / counts.sum()  # (3,) per channel
    for losses in (fallback, tabled):
        for c in range(3):
            x = losses[c::3]
            assert abs(x.mean() - expected[c]) < 4.5 * x.std() / np.sqrt(x.size)
