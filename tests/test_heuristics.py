"""Heuristic policies: equal share (exact expected loss), proportional, random."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents import heuristics as h
from difsched_jax.config import get_env_config
from difsched_jax.env.channel import grid_index, mean_success_curve

KEY = jax.random.key(0)


@pytest.mark.parametrize("env_index,expected", [(0, 0.297), (1, 0.500), (2, 0.297), (3, 0.500)])
def test_equal_share_expected_loss_is_traffic_free(env_index, expected):
    """Every user gets the same success probability, so E[loss] = 1 - p_bar(B/N)
    whatever the counts (SPEC §1: 0.297 for 8/100, 0.500 for 20/200)."""
    config = get_env_config(env_index)
    k, s = zip(*config.sigmoid_pairs)
    curve = np.asarray(mean_success_curve(config.budget, k, s))  # (B,)
    params = h.heuristic_params(config.budget)
    counts = np.random.default_rng(env_index).integers(0, 201, (50, config.num_users))
    r = np.asarray(jax.vmap(h.equal_share, in_axes=(None, None, 0))(params, KEY, counts))
    p = curve[np.asarray(grid_index(jnp.asarray(r), config.budget))]  # (50, N)
    loss = (counts * (1 - p)).sum(1) / counts.sum(1)
    np.testing.assert_allclose(loss, expected, atol=5e-4)
    assert np.isclose(r.sum(1), config.budget).all()


def test_proportional_floors_exactly():
    params = h.heuristic_params(100)
    r = np.asarray(h.proportional(params, KEY, jnp.array([1, 1, 1], jnp.int32)))
    np.testing.assert_array_equal(r, [33, 33, 33])  # floor(100/3), no float 33.33 -> 34
    r = np.asarray(h.proportional(params, KEY, jnp.array([3, 1, 0, 6], jnp.int32)))
    np.testing.assert_array_equal(r, [30, 10, 0, 60])
    r = np.asarray(h.proportional(h.heuristic_params(200), KEY, jnp.array([7, 13, 0], jnp.int32)))
    np.testing.assert_array_equal(r, [70, 130, 0])


def test_proportional_random_counts_within_budget():
    counts = np.random.default_rng(1).integers(0, 201, (200, 8))
    r = np.asarray(
        jax.vmap(h.proportional, in_axes=(None, None, 0))(h.heuristic_params(100), KEY, counts)
    )
    expected = np.where(
        counts.sum(1, keepdims=True) > 0, 100 * counts // counts.sum(1)[:, None], 12
    )
    np.testing.assert_array_equal(r, expected)
    assert (r.sum(1) <= 100).all() and (r.sum(1) > 100 - 8).all()


def test_proportional_all_zero_gives_equal_floor():
    r = np.asarray(h.proportional(h.heuristic_params(100), KEY, jnp.zeros(8, jnp.int32)))
    np.testing.assert_array_equal(r, np.full(8, 12))
    assert np.isfinite(r).all()


def test_random_policy_in_range_and_keyed():
    params = h.heuristic_params(60)
    obs = jnp.zeros(4, jnp.int32)
    r1 = np.asarray(h.random_policy(params, jax.random.key(1), obs))
    r2 = np.asarray(h.random_policy(params, jax.random.key(2), obs))
    assert ((r1 >= 0) & (r1 <= 60)).all() and not np.allclose(r1, r2)
