"""Deep-RL baselines: distributions, initial policy, checkpoints (fast, no training)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents.drl import distributions as dist
from difsched_jax.agents.drl import ppo, sac
from difsched_jax.agents.drl.policy import ActorSpec, DeterministicPolicy, policy_params
from difsched_jax.config import get_env_config
from difsched_jax.env import make_env
from difsched_jax.env.build import split_params
from difsched_jax.traffic import get_trace
from difsched_jax.train.checkpoint import BestLatest


@pytest.mark.parametrize("squash", ["tanh", "simplex"])
def test_log_det_matches_the_jacobian(squash):
    # log pi(a) = log N(z) - log|det da/dz| over the first D coordinates of a
    z = jax.random.normal(jax.random.key(0), (4,))
    dim = z.shape[0]
    jac = jax.jacobian(lambda x: dist.squash_latent(x, squash)[:dim])(z)
    np.testing.assert_allclose(dist.log_det(z, squash), jnp.linalg.slogdet(jac)[1], rtol=1e-4)
    with pytest.raises(ValueError, match="no density"):
        dist.log_det(z, "softmax")


@pytest.mark.parametrize("n", [2, 8, 20])
def test_equal_share_bias_squashes_to_equal_share(n):
    for squash in dist.SQUASHES:
        z = jnp.full((dist.latent_dim(squash, n),), dist.equal_share_bias(squash, n))
        a = dist.squash_latent(z, squash)
        assert a.shape == (n,)
        np.testing.assert_allclose(a, 2.0 / n - 1.0, atol=1e-6)


def test_softmax_squash_spends_exactly_the_budget():
    z = jax.random.normal(jax.random.key(1), (5, 8)) * 3
    r = (dist.squash_latent(z, "softmax") + 1.0) * 100 / 2
    np.testing.assert_allclose(r.sum(-1), 100.0, rtol=1e-5)


@pytest.mark.parametrize("arch", ["mlp", "deepsets"])
@pytest.mark.parametrize("squash", ["tanh", "softmax", "simplex"])
def test_initial_policy_is_equal_share(arch, squash):
    if arch == "deepsets" and squash == "simplex":
        with pytest.raises(ValueError, match="pins the last user"):
            ActorSpec(num_users=8, window=200, arch=arch, squash=squash)
        return
    spec = ActorSpec(num_users=8, window=200, hidden=(16,), arch=arch, squash=squash)
    params = spec.module().init(jax.random.key(0), jnp.zeros(8))["params"]
    policy = DeterministicPolicy(spec)
    obs = jnp.array([0, 10, 50, 100, 150, 200, 3, 70], jnp.int32)
    r = policy(policy_params(params, 100), jax.random.key(1), obs)
    np.testing.assert_allclose(r, 12.5, atol=0.5)  # near-zero head weights: ~B/N each


def test_deepsets_actor_is_permutation_equivariant():
    spec = ActorSpec(num_users=6, window=200, hidden=(16, 16), arch="deepsets")
    params = spec.module().init(jax.random.key(0), jnp.zeros(6))["params"]
    params = jax.tree.map(lambda x: x * 30, params)  # make the head matter
    s = jax.random.uniform(jax.random.key(2), (6,), minval=-1, maxval=1)
    perm = jnp.array([3, 0, 5, 1, 4, 2])
    a = spec.mean_action(params, s)
    np.testing.assert_allclose(spec.mean_action(params, s[perm]), a[perm], atol=1e-5)


def test_split_params_holds_out_the_tail():
    c = get_env_config(0)
    _, params = make_env(c, get_trace(c.flow, c.window), "train", "predicted", 100)
    train, val = split_params(params, 0.2)
    n = params.actual.shape[0]
    assert train.actual.shape[0] + val.actual.shape[0] == n
    np.testing.assert_array_equal(val.observed, params.observed[n - val.actual.shape[0] :])
    with pytest.raises(ValueError, match="val_fraction"):
        split_params(params, 0.9999)


def test_config_validation_messages():
    with pytest.raises(ValueError, match="minibatches"):
        ppo.PPOConfig(num_slices=10, rollout_len=3, minibatches=4)
    with pytest.raises(ValueError, match="multiple of"):
        sac.SACConfig(num_slices=7, buffer_size=100)
    with pytest.raises(ValueError, match="squash"):
        ppo.PPOConfig(squash="beta")
    with pytest.raises(ValueError, match="action density"):
        sac.SACConfig(squash="softmax")


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac"])  # PPO's state goes round in the resume test
def test_checkpoint_round_trip_keeps_best_and_latest(tmp_path, algo):
    c = get_env_config(0)
    spec, params = make_env(c, get_trace(c.flow, c.window), "train", "predicted", 100)
    if algo == "ppo":
        mod, cfg = ppo, ppo.PPOConfig(num_slices=4, rollout_len=2, minibatches=2)
    else:
        mod, cfg = sac, sac.SACConfig(num_slices=4, buffer_size=40)
    state = mod.init_state(cfg, jax.random.key(0), params, spec)
    ckpt = BestLatest(tmp_path / "ckpt")
    ckpt.save("best", 1, {"actor": state.actor}, {"val_loss": 0.3})
    ckpt.save("latest", 2, state, {"best_val_loss": 0.3})
    ckpt.save("latest", 3, state, {"best_val_loss": 0.3})  # replaces 2, keeps best
    assert (ckpt.step("best"), ckpt.step("latest")) == (1, 3)
    other = mod.init_state(cfg, jax.random.key(9), params, spec)
    restored, meta = BestLatest(tmp_path / "ckpt").restore("latest", other)
    assert meta == {"best_val_loss": 0.3}
    assert type(restored) is type(state)
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(x, y)
    best, meta = ckpt.restore("best", {"actor": other.actor})
    assert meta["val_loss"] == 0.3
    jax.tree.map(np.testing.assert_array_equal, best["actor"], state.actor)
    assert BestLatest(tmp_path / "empty").restore("latest", state) is None
