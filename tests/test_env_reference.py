"""The NumPy references themselves (oracle and baselines): episodes, empty
windows, sanitised actions, and loop/vectorised agreement on the budget rule."""

from __future__ import annotations

import numpy as np

from difsched_jax.env.numpy_reference import (
    ReferenceSlice,
    VectorizedSlices,
    budget_rule_np,
    sanitize_np,
)


def _args(length=30, zeros=False, episode_len=4):
    rng = np.random.default_rng(0)
    actual = np.zeros(length, int) if zeros else rng.integers(0, 201, length)
    return {
        "actual": actual,
        "observed": actual[::-1].copy(),
        "sigmoid_k": np.array([0.1, 0.5]),
        "sigmoid_s": np.array([10.0, 10.0]),
        "budget": 60,
        "num_users": 4,
        "episode_len": episode_len,
    }


def test_episodes_reset_after_episode_len():
    ref = ReferenceSlice(**_args(), seed=1)
    vec = VectorizedSlices(_args(), 3, seed=1)
    dones, vec_dones = [], []
    for _ in range(9):
        dones.append(ref.step(np.full(4, 15.0))[2])
        vec_dones.append(vec.step(np.full((3, 4), 15.0))[2])
    assert np.flatnonzero(dones).tolist() == [3, 7]
    assert np.all(np.array(vec_dones)[[3, 7]]) and np.array(vec_dones).sum() == 6
    assert ref.t == 1 and np.all(vec.t == 1)


def test_observation_is_the_observed_trace_and_losses_use_actual():
    ref = ReferenceSlice(**_args(episode_len=100), seed=2)
    for _ in range(5):
        cursors = ref.cursors.copy()
        np.testing.assert_array_equal(ref.obs, ref.observed[cursors])
        info = ref.step(np.full(4, 15.0))[3]
        np.testing.assert_array_equal(info["actual"], ref.actual[cursors])


def test_empty_windows_and_bad_actions():
    ref = ReferenceSlice(**_args(zeros=True), seed=3)
    vec = VectorizedSlices(_args(zeros=True), 2, seed=3)
    bad = np.array([np.nan, -np.inf, np.inf, -3.0])
    _, reward, _, info = ref.step(bad)
    assert reward == 1.0 and info["empty"] and info["loss"] == 0.0
    _, rewards, _, vinfo = vec.step(np.stack([bad, bad]))
    assert np.all(rewards == 1.0) and np.all(vinfo["empty"])
    np.testing.assert_array_equal(sanitize_np(bad, 60), [0, 0, 60, 0])
    np.testing.assert_array_equal(info["granted"], [0, 0, 60, 0])


def test_budget_rules_agree():
    """Loop and vectorised budget rules: same set of outcomes, all of B handed out."""
    r = np.array([30.0, 25.0, 20.0, 0.0])
    vec = VectorizedSlices(_args(), 2000, seed=4)
    got = vec._budget(np.broadcast_to(r, (2000, 4)).copy())
    rng = np.random.default_rng(5)
    loop = np.array([budget_rule_np(r, 60, rng) for _ in range(2000)])
    assert {tuple(g) for g in got} == {tuple(g) for g in loop}
    assert np.allclose(got.sum(1), 60) and np.allclose(loop.sum(1), 60)
    np.testing.assert_allclose(got.mean(0), loop.mean(0), atol=1.5)
