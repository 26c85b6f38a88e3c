"""The "markov" traffic type: the env reproduces the trace's empirical
transition matrix, and a user on a count never left in the trace stays put."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from difsched_jax.config import EnvConfig
from difsched_jax.env import EnvState, make_env, rollout, step
from difsched_jax.env.numpy_reference import ReferenceSlice, VectorizedSlices, reference_args
from difsched_jax.traffic import Trace
from difsched_jax.traffic.markov import transition_matrix

LEVELS = np.array([10, 50, 120, 200])


def chain_trace(length=600, seed=0):
    """A 4-level chain with sticky, asymmetric transitions; count 7 appears only
    last (never left) and 199 never."""
    rng = np.random.default_rng(seed)
    stay = np.array(
        [[0.6, 0.3, 0.1, 0.0], [0.2, 0.5, 0.2, 0.1], [0.1, 0.2, 0.4, 0.3], [0.3, 0.0, 0.2, 0.5]]
    )
    s = [0]
    for _ in range(length - 2):
        s.append(rng.choice(4, p=stay[s[-1]]))
    counts = np.append(LEVELS[s], 7).astype(float)
    return Trace(counts, counts, counts, counts, window=200)


def markov_env(trace):
    config = EnvConfig(num_users=4, budget=60, flow="thumb_bk", sigmoid_k=(0.3,), traffic="markov")
    return make_env(config, trace)


def _transition_pvalue(before, after, matrix) -> float:
    """Chi-square of observed transitions (pooled over the seen rows) against matrix."""
    stat, dof = 0.0, 0
    for u in LEVELS:
        nxt = after[before == u]
        if nxt.size == 0:
            continue
        targets = np.append(LEVELS, 7)  # the trace ends on a 7 after one of the levels
        observed = np.array([np.sum(nxt == v) for v in targets])
        assert observed.sum() == nxt.size, "a transition the trace never made"
        probs = matrix[u, targets]
        live = probs > 0
        assert observed[~live].sum() == 0
        expected = probs[live] * nxt.size
        stat += ((observed[live] - expected) ** 2 / expected).sum()
        dof += live.sum() - 1
    return float(stats.chi2.sf(stat, dof))


@pytest.mark.slow
def test_transitions_follow_the_empirical_matrix():
    trace = chain_trace()
    spec, params = markov_env(trace)
    matrix = transition_matrix(trace.test_actual, 200)
    rec = rollout(lambda p, k, o: jnp.full(4, 15.0), None, params, spec, jax.random.key(0), 64, 60)
    actual = np.asarray(rec.actual)  # (T, S, N)
    np.testing.assert_array_equal(rec.obs, actual)  # predicted = actual for markov
    before, after = actual[:-1].ravel(), actual[1:].ravel()
    keep = np.isin(before, LEVELS)
    assert _transition_pvalue(before[keep], after[keep], matrix) > 1e-5
    # the NumPy references draw from the same matrix
    vec = VectorizedSlices(reference_args(params, spec), 64, seed=1)
    seq = [vec.counts.copy()] + [vec.step(np.full((64, 4), 15.0))[3]["next_obs"] for _ in range(40)]
    seq = np.array(seq)
    before, after = seq[:-1].ravel(), seq[1:].ravel()
    keep = np.isin(before, LEVELS)
    assert _transition_pvalue(before[keep], after[keep], matrix) > 1e-5


def test_unseen_counts_keep_the_user():
    spec, params = markov_env(chain_trace())
    counts = jnp.array([7, 199, 0, 50], jnp.int32)  # 7: only the last entry; 199, 0: never
    state = EnvState(
        cursors=jnp.zeros(4, jnp.int32),
        counts=counts,
        obs=counts,
        channel=jnp.int32(0),
        t=jnp.int32(0),
    )
    step_j = jax.jit(step, static_argnames="spec")
    moved = []
    for i in range(20):
        _, state, _, _, info = step_j(jax.random.key(i), state, jnp.full(4, 15.0), params, spec)
        np.testing.assert_array_equal(info["next_obs"][:3], [7, 199, 0])
        moved.append(int(info["next_obs"][3]))
    assert set(moved) <= set(LEVELS.tolist()) and len(set(moved)) > 1
    ref = ReferenceSlice.from_params(params, spec)
    ref.set_state(np.zeros(4, int), 0, counts=np.array([7, 199, 0, 50]))
    for _ in range(5):
        assert ref.step(np.full(4, 15.0))[3]["next_obs"][:3].tolist() == [7, 199, 0]
