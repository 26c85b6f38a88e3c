"""The oracle's DP: exact against brute force, NumPy, batched/unbatched, jit/no-jit."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from difsched_jax.agents import heuristics as h
from difsched_jax.config import get_env_config

KEY = jax.random.key(0)
ALLOC = jax.jit(h.oracle_allocation)  # one compile per shape across the tests


def brute_force_value(gain: np.ndarray, counts: np.ndarray) -> float:
    budget = len(gain) - 1
    return max(
        float(np.dot(counts, gain[list(r)]))
        for r in itertools.product(range(budget + 1), repeat=len(counts))
        if sum(r) <= budget
    )


def check_optimal(gain, counts, r, best):
    r = np.asarray(r)
    assert r.dtype == np.int32 and r.shape == counts.shape
    assert (r >= 0).all() and r.sum() <= len(gain) - 1
    value = float(np.dot(counts, np.asarray(gain, np.float64)[r]))
    assert value >= best - 1e-4 * max(1.0, best), (r, value, best)


# Few shapes (one compile each), any values: gains need not be monotone.
@settings(max_examples=40, deadline=None)
@given(
    shape=st.sampled_from([(1, 3), (2, 3), (3, 5), (4, 4), (5, 6), (6, 3)]),
    data=st.data(),
)
def test_dp_matches_brute_force(shape, data):
    num_users, budget = shape
    gain = np.array(
        data.draw(st.lists(st.floats(0, 1, width=32), min_size=budget + 1, max_size=budget + 1)),
        np.float32,
    )
    counts = np.array(
        data.draw(st.lists(st.integers(0, 200), min_size=num_users, max_size=num_users)),
        np.int32,
    )
    best = brute_force_value(gain.astype(np.float64), counts)
    check_optimal(gain, counts, ALLOC(jnp.asarray(gain), jnp.asarray(counts)), best)
    for by_count in (True, False):
        r = h.oracle_allocation_numpy(gain, counts, by_count).astype(np.int32)
        check_optimal(gain, counts, r, best)


def test_sigmoid_curve_tiny_cases_brute_force():
    """The real curve shape (S-shaped, saturating at B-1) on small budgets."""
    rng = np.random.default_rng(3)
    for budget, users in [(5, 3), (4, 4)]:
        gain = np.asarray(h.oracle_params(budget, [0.1, 0.5, 1.0], [2.0, 3.0, 4.0]).gain)
        assert gain[budget] == gain[budget - 1]  # r = B uses grid index B-1
        for _ in range(5):
            counts = rng.integers(0, 50, users).astype(np.int32)
            r = ALLOC(jnp.asarray(gain), jnp.asarray(counts))
            check_optimal(gain, counts, r, brute_force_value(gain.astype(np.float64), counts))


@pytest.mark.slow
@pytest.mark.parametrize("env_index", [0, 1])
def test_full_size_matches_numpy_dp(env_index):
    config = get_env_config(env_index)
    k, s = zip(*config.sigmoid_pairs)
    gain = h.oracle_params(config.budget, k, s).gain
    counts = np.random.default_rng(env_index).integers(0, 164, (12, config.num_users))
    counts[0] = 0
    counts[1, 1:] = 0  # a single sender
    r = np.asarray(h.oracle_allocate_batch(gain, jnp.asarray(counts, jnp.int32)))
    g64 = np.asarray(gain, np.float64)
    for row, c in zip(r, counts):
        ref = h.oracle_allocation_numpy(g64, c, by_count=False)  # the textbook DP
        best = float(np.dot(c, g64[ref]))
        check_optimal(gain, c, row.astype(np.int32), best)
        check_optimal(gain, c, h.oracle_allocation_numpy(g64, c).astype(np.int32), best)
    # a single sender gets the fewest blocks reaching the top of the (float32) curve
    assert r[1, 1:].sum() == 0 and gain[r[1, 0]] == gain.max() and gain[r[1, 0] - 1] < gain.max()


@pytest.mark.slow
def test_vmap_unbatched_and_per_slice_gain_agree():
    counts = jnp.asarray(np.random.default_rng(0).integers(0, 100, (5, 4)), jnp.int32)
    gain = h.oracle_params(4, [0.2, 0.4], [1.0, 1.0]).gain
    batched = np.asarray(jax.jit(jax.vmap(h.oracle_allocation, in_axes=(None, 0)))(gain, counts))
    single = np.stack([np.asarray(ALLOC(gain, c)) for c in counts])
    gains = jnp.broadcast_to(gain, (5, gain.shape[0]))
    per_slice = np.asarray(jax.jit(jax.vmap(h.oracle_allocation))(gains, counts))
    np.testing.assert_array_equal(batched, single)
    np.testing.assert_array_equal(batched, per_slice)
    # nested vmap (e.g. experiments x slices) falls back to plain batching
    nested = jax.vmap(jax.vmap(h.oracle_allocation, in_axes=(None, 0)), in_axes=(None, 0))
    np.testing.assert_array_equal(np.asarray(jax.jit(nested)(gain, counts[None]))[0], batched)


@pytest.mark.slow
def test_chunked_batches_agree(monkeypatch):
    """Batches larger than a chunk (padded, several passes) give the same allocations."""
    counts = jnp.asarray(np.random.default_rng(2).integers(0, 60, (7, 3)), jnp.int32)
    gain = h.oracle_params(6, [0.3], [2.0]).gain
    whole = np.asarray(h._dp_batch(gain, counts))
    monkeypatch.setattr(h, "_chunk_size", lambda: 3)  # 7 slices -> 3 chunks, 2 padded
    np.testing.assert_array_equal(np.asarray(jax.jit(h._dp_chunked)(gain, counts)), whole)
    gains = jnp.broadcast_to(gain, (7, gain.shape[0]))
    np.testing.assert_array_equal(np.asarray(jax.jit(h._dp_chunked)(gains, counts)), whole)


@pytest.mark.slow
def test_jit_and_no_jit_agree():
    params = h.oracle_params(5, [0.3], [2.0])
    obs = jnp.array([5, 0, 9], jnp.int32)
    jitted = np.asarray(jax.jit(h.oracle)(params, KEY, obs))
    with jax.disable_jit():
        eager = np.asarray(h.oracle(params, KEY, obs))
    np.testing.assert_array_equal(jitted, eager)


def test_oracle_policy_all_zero_and_dtype():
    params = h.oracle_params(100, [0.3], [10.0])
    oracle = jax.jit(h.oracle)
    r = oracle(params, KEY, jnp.zeros(8, jnp.int32))
    assert r.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(r), np.full(8, 12.0))  # floor(B/N), not all zero
    r = np.asarray(oracle(params, KEY, jnp.array([0, 40, 0, 0, 0, 0, 0, 80], jnp.int32)))
    assert r[[0, 2, 3, 4, 5, 6]].sum() == 0 and r.sum() <= 100 and r[7] >= r[1] > 0


def test_oracle_params_validation():
    with pytest.raises(ValueError, match="positive integer"):
        h.oracle_params(0, [0.3], [10.0])
    with pytest.raises(ValueError, match="positive integer"):
        h.oracle_params(12.5, [0.3], [10.0])
