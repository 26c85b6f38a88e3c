"""The yardsticks of issue 22: oracle-bayes / oracle-calibrated (the DP on exact expected
loss weights given the observation) and oracle-ceil (the optimum under the reference's
ceil), each against brute force on small slices."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents import bayes, heuristics
from difsched_jax.config import get_env_config
from difsched_jax.env.channel import grid_index
from difsched_jax.evaluate.compare import compare_policies, comparison_payload, format_table
from difsched_jax.evaluate.registry import EvalContext, resolve_policy
from difsched_jax.traffic import get_trace


def _random_law(rng, window):
    return rng.dirichlet(np.full(window + 1, 0.4), size=window + 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_weights_equal_the_enumerated_expectation(seed):
    rng = np.random.default_rng(seed)
    window, n = 6, 3
    law = _random_law(rng, window)
    law[2] = np.eye(window + 1)[0]  # a row where the user surely sends nothing
    params = bayes.bayes_params(np.linspace(0.0, 1.0, 5), law)
    for obs in rng.integers(0, window + 1, size=(6, n)):
        got = np.asarray(bayes.loss_weights(params, jnp.asarray(obs)))
        want = np.zeros(n)
        for us in itertools.product(range(window + 1), repeat=n):
            p = np.prod([law[o, u] for o, u in zip(obs, us)])
            if sum(us) > 0:
                want += p * np.asarray(us) / sum(us)
        np.testing.assert_allclose(got, want, atol=2e-6)


def test_loss_weights_at_realistic_sizes_match_monte_carlo():
    """20 users, L = 200: the quadrature against 200,000 sampled count vectors (the
    Monte Carlo standard error is below 1e-3; 5 sigma)."""
    rng = np.random.default_rng(7)
    window, n = 200, 20
    law = _random_law(rng, window)
    params = bayes.bayes_params(np.ones(3), law)
    obs = rng.integers(0, window + 1, n)
    got = np.asarray(bayes.loss_weights(params, jnp.asarray(obs)))
    us = np.stack([rng.choice(window + 1, size=200_000, p=law[o]) for o in obs], 1)
    share = us / np.maximum(us.sum(1), 1)[:, None]
    se = share.std(0) / np.sqrt(us.shape[0])
    assert np.all(np.abs(got - share.mean(0)) < 5 * se + 1e-6)


def _brute_force_best(value, n, budget):
    """max over integer r (n,) with Σ r ≤ budget of value(r)."""
    best = -np.inf
    for r in itertools.product(range(budget + 1), repeat=n):
        if sum(r) <= budget:
            best = max(best, value(np.asarray(r)))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_oracle_bayes_is_the_brute_force_optimum_of_the_exact_expected_loss(seed):
    rng = np.random.default_rng(seed)
    window, n, budget = 5, 3, 7
    law = _random_law(rng, window)
    gain = heuristics.oracle_params(budget, (0.9,), (3.0,)).gain
    params = bayes.bayes_params(gain, law)
    g = np.asarray(gain, np.float64)
    for obs in rng.integers(0, window + 1, size=(4, n)):
        r = np.asarray(bayes.oracle_bayes(params, None, jnp.asarray(obs))).astype(int)
        assert r.sum() <= budget

        def exact(alloc, obs=obs):
            return -bayes.expected_loss_exact(law, obs, g[alloc])

        assert exact(r) >= _brute_force_best(exact, n, budget) - 1e-6


@pytest.mark.slow
def test_oracle_bayes_with_a_sure_observation_is_the_oracle():
    window, budget = 200, 100
    gain = heuristics.oracle_params(budget, (0.3,), (10.0,)).gain
    params = bayes.bayes_params(gain, np.eye(window + 1))
    obs = jnp.asarray([120, 3, 40, 0, 77, 200, 15, 61])
    want = heuristics.oracle(heuristics.OracleParams(gain=gain), None, obs)
    np.testing.assert_array_equal(bayes.oracle_bayes(params, None, obs), want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_ceil_is_the_optimum_under_the_reference_ceil(seed):
    """Brute force over effective grid indices k: a real allocation reaches k when
    Σ_{k_i > 0} (k_i − 1) < B (each such user needs k_i − 1 + ε blocks)."""
    rng = np.random.default_rng(seed)
    n, budget = 3, 6
    k_s = (float(rng.uniform(0.3, 1.5)),), (float(rng.uniform(1.0, 4.0)),)
    params = heuristics.oracle_ceil_params(budget, *k_s)
    curve = np.asarray(heuristics.oracle_params(budget, *k_s).gain, np.float64)[:budget]
    for counts in rng.integers(0, 50, size=(5, n)):
        r = heuristics.oracle_ceil(params, None, jnp.asarray(counts))
        assert float(jnp.sum(r)) <= budget
        got = float(np.sum(counts * curve[np.asarray(grid_index(r, budget))]))
        best = max(
            np.sum(counts * curve[np.asarray(k)])
            for k in itertools.product(range(budget), repeat=n)
            if sum(max(x - 1, 0) for x in k) < budget
        )
        assert got >= best - 1e-5


def test_conditional_law_rows_and_pooling():
    observed = np.asarray([0, 0, 1, 1, 1, 5])
    scored = np.asarray([0, 2, 1, 1, 3, 5])
    law = bayes.conditional_law(observed, scored, window=6)
    np.testing.assert_allclose(law.sum(1), 1.0)
    np.testing.assert_allclose(law[1], [0, 2 / 3, 0, 1 / 3, 0, 0, 0])
    np.testing.assert_allclose(law[3], np.bincount(scored, minlength=7) / 6)  # never seen
    pooled = bayes.conditional_law(observed, scored, window=6, min_samples=4)
    np.testing.assert_allclose(pooled[0], [1 / 5, 2 / 5, 1 / 5, 1 / 5, 0, 0, 0])  # rows 0..1
    np.testing.assert_allclose(pooled.sum(1), 1.0)
    with pytest.raises(ValueError, match="no .* pairs"):
        bayes.conditional_law([], [], window=6)


def test_oracle_ceil_is_refused_under_integer_and_bayes_needs_the_trace():
    with pytest.raises(ValueError, match="--allocation reference"):
        resolve_policy("oracle-ceil", get_env_config(0))
    with pytest.raises(ValueError, match="needs the evaluated trace"):
        resolve_policy("oracle-bayes", get_env_config(0))
    config = get_env_config(0).replace(allocation="reference")
    assert resolve_policy("oracle-ceil", config).params.gain.shape == (config.budget,)
    trace = get_trace(config.flow, config.window)
    ctx = EvalContext(trace, "test", "predicted")
    assert resolve_policy("oracle-calibrated", config, ctx).params.laplace.shape[0] == 201


@pytest.mark.slow
def test_oracle_bayes_is_at_or_below_every_policy_that_sees_the_prediction():
    """Synthetic traffic, environment 0 under `integer`: oracle-bayes is the floor of
    the predicted-observation rows (paired 95 % intervals over the same slices), the
    perfect-observation oracle below it, and each row carries its paired differences."""
    config = get_env_config(0)
    trace = get_trace(config.flow, config.window)
    names = "equal,proportional,oracle,oracle-calibrated,oracle-bayes,oracle-perfect"
    rows = compare_policies(names, config, trace, num_slices=48, num_windows=60)
    by = {r.name: r for r in rows}
    for row in rows:
        assert set(row.paired) == {"oracle-bayes", "oracle"}
        if row.obs == "predicted" and row.name != "oracle-bayes":
            mean, half = row.paired["oracle-bayes"]
            assert mean > -half, f"{row.name} below oracle-bayes"
    mean, half = by["oracle-perfect"].paired["oracle-bayes"]
    assert mean + half < 0
    assert by["oracle-bayes"].paired["oracle-bayes"] == (0.0, 0.0)
    table = format_table(rows)
    assert "Δ vs oracle-bayes (paired)" in table and "Δ vs oracle (paired)" in table
    payload = comparison_payload(rows, allocation=config.allocation)
    first = payload["results"][0]
    assert len(first["slice_losses"]) == 48
    assert np.isclose(np.mean(first["slice_losses"]), first["mean_loss"])
    assert set(first["paired_difference"]) == {"oracle-bayes", "oracle"}
