"""Statistical parity of the JAX env with the plain NumPy reference (SPEC §1).

Every check is a two-sided z-test at |z| < 4.5 (p = 7e-6 per check, so a false
alarm about once in 10^4 runs of this file). Losses are compared with their
exact conditional expectation given the window's counts and granted
allocation, E[loss] = sum_i u_i q_bar(idx_i) / sum_i u_i (q_bar: the loss
probability averaged over the channel pairs), whose residuals are independent
across windows; and the implementations are compared with each other.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.config import EnvConfig, get_env_config
from difsched_jax.env import make_env, rollout
from difsched_jax.env.numpy_reference import (
    ReferenceSlice,
    VectorizedSlices,
    grid_index_np,
    reference_args,
    success_curve_np,
)
from difsched_jax.traffic import get_trace, synthetic_trace

Z = 4.5
KEY = jax.random.key(7)
K5 = (0.1, 0.2, 0.3, 0.4, 0.5)
ALLOCATIONS = {
    "equal": [12.5] * 8,  # traffic-free expected loss 0.297
    "fractional": [11.1, 11.5, 11.9, 12.0, 11.01, 11.99, 11.6, 11.3],  # all on grid index 12
    "over_budget": [40.0, 30.0, 20.0, 10.0, 10.0, 5.0, 0.5, 0.0],  # the budget rule cuts
}


def fixed(r, key, obs):
    """A policy that always asks for the allocation r (its params)."""
    del key, obs
    return r


def env8(trace=None, allocation="reference"):
    """SPEC §1's slice; `reference` semantics by default (its figures: 12.5 blocks
    execute as 13 on the grid)."""
    config = EnvConfig(
        num_users=8, budget=100, flow="thumb_fr", sigmoid_k=K5, allocation=allocation
    )
    return make_env(config, trace or synthetic_trace("thumb_fr", seed=1))


def expected_loss(actual, granted, args) -> np.ndarray:
    """(W,) E[loss | counts, granted]; windows nobody sends in count 0."""
    q_bar = 1.0 - success_curve_np(args["sigmoid_k"], args["sigmoid_s"], args["budget"]).mean(0)
    q = q_bar[grid_index_np(np.asarray(granted, np.float64), args["budget"])]  # (W, N)
    total = actual.sum(-1)
    return np.where(total > 0, (actual * q).sum(-1) / np.maximum(total, 1), 0.0)


def z_mean(x) -> float:
    x = np.asarray(x, np.float64).ravel()
    return float(x.mean() / (x.std(ddof=1) / np.sqrt(x.size)))


def z_diff(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return float((a.mean() - b.mean()) / se)


def jax_windows(spec, params, r, slices=64, windows=100):
    rec = rollout(fixed, jnp.asarray(r, jnp.float32), params, spec, KEY, slices, windows)
    return np.asarray(rec.loss), np.asarray(rec.actual), np.asarray(rec.granted)


def loop_windows(spec, params, r, windows=300):
    ref = ReferenceSlice.from_params(params, spec, seed=3)
    infos = [ref.step(np.asarray(r))[3] for _ in range(windows)]
    return tuple(np.array([i[k] for i in infos]) for k in ("loss", "actual", "granted"))


def vectorized_windows(spec, params, r, slices=64, windows=100):
    env = VectorizedSlices(reference_args(params, spec), slices, seed=5)
    infos = [env.step(np.broadcast_to(np.asarray(r), (slices, 8)))[3] for _ in range(windows)]
    return tuple(np.array([i[k] for i in infos]) for k in ("loss", "actual", "granted"))


@pytest.fixture(scope="module")
def runs():
    """Windows of all three implementations for every allocation (shared: one compile)."""
    spec, params = env8()
    out = {}
    for name, r in ALLOCATIONS.items():
        out[name] = {
            "jax": jax_windows(spec, params, r),
            "loop": loop_windows(spec, params, r),
            "vectorized": vectorized_windows(spec, params, r),
        }
    return reference_args(params, spec), out


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["jax", "loop", "vectorized"])
@pytest.mark.parametrize("alloc", list(ALLOCATIONS))
def test_mean_loss_matches_its_expectation(runs, impl, alloc):
    args, out = runs
    loss, actual, granted = out[alloc][impl]
    residual = loss - expected_loss(actual, granted, args)
    assert abs(z_mean(residual)) < Z


@pytest.mark.slow
@pytest.mark.parametrize("alloc", ["equal", "fractional"])
def test_traffic_free_losses_agree_with_the_loop_reference(runs, alloc):
    """Same expected loss whatever the traffic: compare the means directly."""
    _, out = runs
    jax_loss, loop_loss = out[alloc]["jax"][0], out[alloc]["loop"][0]
    assert abs(z_diff(jax_loss, loop_loss)) < Z
    if alloc == "equal":
        assert abs(jax_loss.mean() - 0.297) < 0.004  # SPEC §1's handy check


@pytest.mark.slow
@pytest.mark.parametrize("alloc", ["equal", "fractional"])
def test_whole_block_losses_agree_with_the_loop_reference(alloc):
    """Under `integer` every implementation executes the same whole blocks; equal share
    at 8 users is four users at 13 blocks and four at 12 (0.327 against 0.297)."""
    spec, params = env8(allocation="integer")
    r = ALLOCATIONS[alloc]
    jax_loss, _, jax_granted = jax_windows(spec, params, r)
    loop_loss, _, loop_granted = loop_windows(spec, params, r)
    np.testing.assert_array_equal(jax_granted[0, 0], loop_granted[0])
    np.testing.assert_array_equal(jax_granted, np.floor(jax_granted))
    assert abs(z_diff(jax_loss, loop_loss)) < Z
    if alloc == "equal":
        np.testing.assert_array_equal(np.sort(loop_granted[0]), [12] * 4 + [13] * 4)
        assert abs(jax_loss.mean() - 0.327) < 0.005


@pytest.mark.slow
def test_budget_cut_losses_agree_with_the_vectorized_reference(runs):
    """Traffic-dependent case: per-slice means of independent slices."""
    _, out = runs
    jax_loss, vec_loss = out["over_budget"]["jax"][0], out["over_budget"]["vectorized"][0]
    assert abs(z_diff(jax_loss.mean(0), vec_loss.mean(0))) < Z
    granted = out["over_budget"]["jax"][2]
    assert np.allclose(granted.sum(-1), 100.0, atol=1e-3)  # the rule hands out all of B


@pytest.mark.slow
def test_dispersion_and_channel_switching(runs):
    """Residual variance = binomial + channel variance (exact); consecutive
    windows uncorrelated (a channel kept across windows would correlate them)."""
    args, out = runs
    loss, actual, granted = out["fractional"]["jax"]
    curve = success_curve_np(args["sigmoid_k"], args["sigmoid_s"], args["budget"])  # (P, B)
    q = 1.0 - curve[:, grid_index_np(granted.astype(np.float64), args["budget"])]  # (P, T, S, N)
    total = np.maximum(actual.sum(-1), 1)  # synthetic traffic: never all silent
    mean_c = (actual * q).sum(-1) / total  # (P, T, S) expected loss per channel
    binom = (actual * q * (1 - q)).sum(-1) / total**2
    variance = (binom + mean_c**2).mean(0) - mean_c.mean(0) ** 2  # (T, S)
    sq = (loss - mean_c.mean(0)) ** 2
    assert abs(z_mean(sq - variance)) < Z
    resid = (loss - mean_c.mean(0)) / np.sqrt(variance)  # (T, S) standardised
    lag1 = (resid[1:] * resid[:-1]).ravel()
    assert abs(z_mean(lag1)) < Z


@pytest.mark.slow
def test_equal_share_on_the_real_traces(traffic_dir):
    """20 users on the real backward trace (8 users: the synthetic runs above)."""
    for idx, expected in ((3, 0.500),):
        config = get_env_config(idx)
        spec, params = make_env(config, get_trace(config.flow, config.window, traffic_dir))
        r = jnp.full(config.num_users, config.budget / config.num_users)
        loss, actual, granted = jax_windows(spec, params, r, slices=32, windows=100)
        residual = loss - expected_loss(actual, granted, reference_args(params, spec))
        assert abs(z_mean(residual)) < Z
        assert abs(loss.mean() - expected) < 0.005


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["jax", "loop", "vectorized"])
def test_worst_user_cost_matches_its_exact_expectation(impl):
    """objective="worst_user": each window costs max_i lost_i / L; its expectation given
    the counts and the executed blocks is `agents.worst_user.expected_worst` (the channel
    pair is drawn independently of the traffic), so residuals have mean 0."""
    from difsched_jax.agents import worst_user as wu

    config = EnvConfig(num_users=8, budget=100, flow="thumb_fr", sigmoid_k=K5,
                       objective="worst_user")  # fmt: skip
    spec, params = make_env(config, synthetic_trace("thumb_fr", seed=1))
    r = ALLOCATIONS["over_budget"]
    run = {"jax": jax_windows, "loop": loop_windows, "vectorized": vectorized_windows}[impl]
    loss, actual, granted = run(spec, params, r)
    actual = actual.reshape(-1, 8)
    granted = np.rint(granted.reshape(-1, 8)).astype(np.int32)  # whole blocks under integer
    yard = wu.worst_user_params(100, K5, config.sigmoid_s, spec.window)
    want = jax.vmap(wu.expected_worst, in_axes=(None, 0, 0))(yard, actual, granted)
    residual = loss.ravel() - np.asarray(want, np.float64)
    assert abs(z_mean(residual)) < Z
    assert loss.max() <= 1.0 and (loss >= 0).all()
    # not the packet-loss rate: the worst user's share of L is a different number
    assert (
        abs(loss.mean() - expected_loss(actual, granted, reference_args(params, spec)).mean())
        > 0.01
    )
