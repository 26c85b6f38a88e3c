"""Env mechanics, exactly: traffic cursors vs the NumPy reference, budget rule,
grid mapping, sanitised actions, empty windows, auto-reset, splits and
observation modes, jit/no-jit agreement, a single trace of step, slice keys."""

from __future__ import annotations

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents.heuristics import heuristic_params, random_policy
from difsched_jax.config import EnvConfig
from difsched_jax.env import EnvState, init_carry, make_env, reset, rollout, run_windows, step
from difsched_jax.env.channel import enforce_budget, grid_index, sanitize_allocation
from difsched_jax.env.numpy_reference import (
    ReferenceSlice,
    budget_rule_np,
    grid_index_np,
    reference_args,
)
from difsched_jax.env.prng import split_words
from difsched_jax.env.rollout import slice_keys
from difsched_jax.traffic import Trace

KEY = jax.random.key(0)
K5 = (0.1, 0.2, 0.3, 0.4, 0.5)
STEP = jax.jit(step, static_argnames="spec")  # shared: one compile per env shape
BUDGET = jax.jit(jax.vmap(enforce_budget, in_axes=(0, None, None)))


def small_trace(length=40, seed=0, zeros=False):
    rng = np.random.default_rng(seed)
    arrays = [np.zeros(length) if zeros else rng.integers(0, 201, length) for _ in range(4)]
    return Trace(*[a.astype(float) + 0.5 * (a < 200) for a in arrays], window=200)


def env(users=4, budget=100, trace=None, split="test", obs="predicted", episode_len=1000):
    config = EnvConfig(num_users=users, budget=budget, flow="thumb_fr", sigmoid_k=K5)
    return make_env(config, trace or small_trace(), split, obs, episode_len)


def state_at(params, cursors, channel=0, t=0):
    cursors = jnp.asarray(cursors, jnp.int32)
    return EnvState(
        cursors=cursors,
        counts=params.actual[cursors],
        obs=params.observed[cursors],
        channel=jnp.asarray(channel, jnp.int32),
        t=jnp.asarray(t, jnp.int32),
    )


def test_state_sequence_matches_reference_from_same_cursors():
    spec, params = env()
    cursors = [0, 17, 38, 39]  # the last two wrap around the end of the trace
    ref = ReferenceSlice.from_params(params, spec)
    ref.set_state(cursors, channel=0)
    state = state_at(params, cursors)
    r = jnp.full(4, 25.0)
    for i in range(45):
        assert np.array_equal(np.asarray(state.obs), ref.obs)
        _, state, _, _, info = STEP(jax.random.fold_in(KEY, i), state, r, params, spec)
        _, _, _, ref_info = ref.step(np.asarray(r))
        assert np.array_equal(np.asarray(info["actual"]), ref_info["actual"])
        assert np.array_equal(np.asarray(info["next_obs"]), ref_info["next_obs"])


def test_split_and_observation_modes():
    trace = small_trace(seed=3)
    for split, obs in itertools.product(("train", "test"), ("predicted", "perfect")):
        _, params = env(trace=trace, split=split, obs=obs)
        actual, predicted = trace.split(split)
        np.testing.assert_array_equal(params.actual, np.floor(actual))
        seen = predicted if obs == "predicted" else actual
        np.testing.assert_array_equal(params.observed, np.floor(seen))
    spec, params = env(trace=trace, obs="predicted")
    obs, state = reset(KEY, params, spec)
    np.testing.assert_array_equal(obs, params.observed[state.cursors])
    np.testing.assert_array_equal(state.counts, params.actual[state.cursors])
    assert not np.array_equal(params.actual, params.observed)
    with pytest.raises(ValueError, match="obs"):
        env(obs="oracle")


def test_reset_cursors_cover_their_range():
    """Cursors start uniform in [0, T-2] and the first state is the next entry: [1, T-1]."""
    spec, params = env(trace=small_trace(length=6))
    keys = jax.random.split(KEY, 3000)
    _, states = jax.jit(jax.vmap(reset, in_axes=(0, None, None)), static_argnums=2)(
        keys, params, spec
    )
    counts = np.bincount(np.asarray(states.cursors).ravel(), minlength=6)
    assert counts[0] == 0 and counts[1:].min() > 0.8 * counts.sum() / 5
    assert set(np.asarray(states.channel).tolist()) == set(range(5))


@pytest.mark.parametrize(
    "r",
    [
        [0.0, 0.5, 1.0, 1.0000001, 2.9999998, 98.5, 99.0, 99.00001],
        [3.2, 12.5, 12.0, 0.0, -0.0, 100.0, 1e-7, 50.5],
    ],
)
def test_grid_mapping_matches_searchsorted(r):
    r32 = np.asarray(r, np.float32)
    expected = grid_index_np(r32.astype(np.float64), 100)
    np.testing.assert_array_equal(grid_index(jnp.asarray(r32), 100), expected)


def test_grid_mapping_rounds_up_and_caps():
    got = np.asarray(grid_index(jnp.array([0.0, 0.1, 1.0, 1.5, 98.2, 99.0, 99.5, 100.0]), 100))
    np.testing.assert_array_equal(got, [0, 1, 1, 2, 99, 99, 99, 99])


def test_sanitised_actions():
    """NaN -> 0, -inf and negatives -> 0, +inf and anything above B -> B."""
    r = jnp.array([jnp.nan, -jnp.inf, jnp.inf, -5.0, 1e9, 30.0])
    np.testing.assert_array_equal(sanitize_allocation(r, 100), [0, 0, 100, 0, 100, 30])
    spec, params = env(users=6)
    state = state_at(params, [1, 2, 3, 4, 5, 6])
    _, _, reward, _, info = STEP(KEY, state, r, params, spec)
    assert np.isfinite(reward) and 0.0 <= float(info["loss"]) <= 1.0
    granted = np.asarray(info["granted"])
    assert granted[[0, 1, 3]].tolist() == [0, 0, 0] and granted.sum() <= 100 + 1e-4


@pytest.mark.parametrize(
    "r,budget",
    [([60.0, 50.0, 30.0], 100), ([100.0, 100.0, 100.0], 100), ([5.5, 7.25, 20.0], 20)],
)
def test_budget_rule_outcomes_and_order_frequencies(r, budget):
    """Every result is the sequential rule for some visiting order, and the
    orders' results occur with the frequencies of uniform random orders."""
    outcomes = {}
    for order in itertools.permutations(range(3)):
        key_ = tuple(budget_rule_np(r, budget, None, order))
        outcomes[key_] = outcomes.get(key_, 0) + 1 / 6
    keys = jax.random.split(KEY, 6000)
    got = np.asarray(BUDGET(keys, jnp.array(r), budget))
    rows = [tuple(np.round(g, 4)) for g in got]
    assert set(rows) <= {tuple(np.round(o, 4)) for o in outcomes}
    for outcome, prob in outcomes.items():
        freq = rows.count(tuple(np.round(outcome, 4))) / len(rows)
        assert abs(freq - prob) < 5 * np.sqrt(prob * (1 - prob) / len(rows)), (outcome, freq)


def test_budget_rule_leaves_feasible_requests_alone():
    keys = jax.random.split(KEY, 50)
    r = jnp.array([10.0, 0.0, 89.5, 0.5])  # sums to exactly B
    got = BUDGET(keys, r, 100)
    np.testing.assert_array_equal(got, np.broadcast_to(r, got.shape))
    np.testing.assert_array_equal(BUDGET(keys[:1], r, 0)[0], [0, 0, 0, 0])


@pytest.mark.slow
def test_empty_windows_have_zero_loss_and_are_flagged():
    spec, params = env(trace=small_trace(zeros=True), episode_len=3)
    record = rollout(random_policy, heuristic_params(100), params, spec, KEY, 8, 8)
    assert np.all(np.asarray(record.loss) == 0.0) and np.all(np.asarray(record.empty))


def _manual_rollout(policy, pp, params, spec, key, num_slices, num_windows):
    """Windows of a vmapped `step` with the rollout's key schedule (the plain reference)."""

    @jax.jit
    def window(keys, state):
        split = jax.vmap(lambda k: split_words(k, 3, 0)[0])(keys)  # (S, 3) next/act/step
        r = jax.vmap(policy, in_axes=(None, 0, 0))(pp, split[:, 1], state.obs)
        _, state, _, done, info = jax.vmap(step, in_axes=(0, 0, 0, None, None))(
            split[:, 2], state, r, params, spec
        )
        return split[:, 0], state, info["loss"], done

    carry = init_carry(key, params, spec, num_slices)
    state, keys = carry.state, carry.key
    losses, dones, obs_seq = [], [], []
    for _ in range(num_windows):
        obs_seq.append(np.asarray(state.obs))
        keys, state, loss, done = window(keys, state)
        losses.append(np.asarray(loss))
        dones.append(np.asarray(done))
    return np.stack(losses), np.stack(dones), np.stack(obs_seq)


@pytest.mark.slow
def test_rollout_equals_stepping_and_auto_resets():
    """The rollout (batched budget rule and reset) gives exactly the vmapped step's
    results, over-budget actions and episode ends included."""
    spec, params = env(episode_len=3)
    pp = heuristic_params(100)
    record = rollout(random_policy, pp, params, spec, KEY, 8, 8)
    losses, dones, obs = _manual_rollout(random_policy, pp, params, spec, KEY, 8, 8)
    np.testing.assert_array_equal(record.loss, losses)
    np.testing.assert_array_equal(record.obs, obs)
    np.testing.assert_array_equal(record.done, dones)
    done_t = np.flatnonzero(np.asarray(record.done)[:, 0])
    start_t = np.flatnonzero(np.asarray(record.episode_start)[:, 0])
    assert done_t.tolist() == [2, 5] and start_t.tolist() == [0, 3, 6]
    # after a reset the observation is the new episode's, not the successor
    assert not np.array_equal(record.next_obs[2], record.obs[3])


@pytest.mark.slow
def test_jit_and_no_jit_agree():
    spec, params = env()
    state = state_at(params, [3, 9, 27, 30], channel=2)
    r = jnp.array([40.0, 35.5, 20.0, 30.0])  # over budget: the rule is exercised
    jitted = STEP(KEY, state, r, params, spec)
    with jax.disable_jit():
        eager = step(KEY, state, r, params, spec)
    chex.assert_trees_all_close(jitted, eager)


def test_step_traces_once():
    spec, params = env()
    traced = jax.jit(chex.assert_max_traces(step, n=1), static_argnames="spec")
    state = state_at(params, [1, 2, 3, 4])
    for i in range(3):
        _, state, *_ = traced(
            jax.random.fold_in(KEY, i), state, jnp.full(4, 10.0 * i), params, spec
        )


RUN = jax.jit(run_windows, static_argnames=("policy", "spec", "num_windows"))


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_slices():
    spec, params = env(episode_len=3)  # the spec of the tests above: compiled once
    pp = heuristic_params(100)
    head = RUN(random_policy, pp, params, spec, init_carry(KEY, params, spec, 4), 8)[1]
    tail = RUN(random_policy, pp, params, spec, init_carry(KEY, params, spec, 4, 4), 8)[1]
    big = rollout(random_policy, pp, params, spec, KEY, 8, 8)
    np.testing.assert_array_equal(head.loss, big.loss[:, :4])
    np.testing.assert_array_equal(head.granted, big.granted[:, :4])
    np.testing.assert_array_equal(tail.loss, big.loss[:, 4:])  # slices 4..7 started alone
    keys = np.asarray(jax.random.key_data(slice_keys(KEY, jnp.arange(8))))
    assert np.unique(keys, axis=0).shape[0] == 8


def test_reference_args_round_trip():
    spec, params = env()
    args = reference_args(params, spec)
    assert args["budget"] == 100 and args["num_users"] == 4 and args["traffic"] == "trace"
    np.testing.assert_array_equal(args["actual"], params.actual)
