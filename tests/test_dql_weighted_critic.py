"""The weighted critic b(s) + Σ c_i(s)·g(r_i): g non-decreasing on the grid, the rise
penalty that keeps g flat where the data never go, and that a fit recovers the best
allocation of a reward of that shape."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from difsched_jax.agents.dql import DQLConfig
from difsched_jax.agents.dql.argmax import best_allocation
from difsched_jax.agents.dql.equivariant import WeightedCritic
from difsched_jax.agents.dql.networks import critic_penalty, init_critics

N, B = 4, 20


def _random_params(critic, seed):
    """Init params with every leaf perturbed, so the test does not pass on the init's
    constant steps alone."""
    s = jnp.zeros((1, N))
    params = critic.init(jax.random.key(seed), s, s)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    noisy = [x + 2.0 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    return jax.tree.unflatten(tree, noisy)


@pytest.mark.slow
def test_g_is_non_decreasing_from_zero_and_the_table_is_per_user_on_the_grid():
    critic = WeightedCritic(hidden=8, budget=B)
    params = _random_params(critic, 0)
    s = jax.random.uniform(jax.random.key(3), (5, N), minval=-1, maxval=1)
    grid = np.asarray(critic.apply(params, method="grid"))  # (B + 1,)
    assert grid.shape == (B + 1,) and grid[0] == 0.0
    assert (np.diff(grid) > 0).all()
    # per-user terms rise with the user's own allocation, between grid points too
    fine = jnp.linspace(-1.0, 1.0, 4 * B + 1)
    per_user_at = jax.jit(
        jax.vmap(lambda x: critic.apply(params, s, jnp.full(s.shape, x), method="per_user"))
    )
    terms = per_user_at(fine)  # (4B + 1, 5, N)
    assert (np.diff(np.asarray(terms), axis=0) >= -1e-6).all()
    table = np.asarray(critic.apply(params, s, method="table"))  # (5, N, B + 1)
    levels = 2.0 * jnp.arange(B + 1) / B - 1.0
    direct = per_user_at(levels)
    # float32; jit fuses the table and the direct calls differently
    np.testing.assert_allclose(table, np.moveaxis(np.asarray(direct), 0, -1), rtol=1e-5, atol=1e-5)
    rise = float(critic.apply(params, method="rise"))
    np.testing.assert_allclose(rise, grid[-1] - grid[0], rtol=1e-5)


def test_penalty_weighs_each_ensembles_mean_rise():
    cfg = DQLConfig.without_bc(
        N, budget=float(B), network="equivariant", critic_structure="weighted",
        user_hidden=8, num_critics=3, rise_penalty=0.5,
    )  # fmt: skip
    params = init_critics(jax.random.key(0), cfg)
    steps = params["params"]["steps"]  # (2, K, B)
    expected = 0.5 * jax.nn.softplus(steps).sum(-1).mean(1).sum()
    np.testing.assert_allclose(float(critic_penalty(params, cfg)), float(expected), rtol=1e-6)
    assert float(critic_penalty(params, cfg.replace(critic_structure="additive"))) == 0.0
    with pytest.raises(ValueError, match="whole number"):
        cfg.replace(budget=20.5)
    with pytest.raises(ValueError, match="rise_penalty"):
        cfg.replace(rise_penalty=-1.0)


def _product_reward_data(key, size):
    """States of N users and allocations up to B/2 only; reward Σ_i (u_i/Σu)·p(r_i),
    p a sigmoid, plus noise: the shape the weighted critic assumes."""
    k_u, k_r, k_n = jax.random.split(key, 3)
    u = jax.random.randint(k_u, (size, N), 0, 50).astype(jnp.float32)
    r = jax.random.randint(k_r, (size, N), 0, B // 2 + 1).astype(jnp.float32)
    share = u / jnp.maximum(u.sum(1, keepdims=True), 1.0)
    reward = (share * jax.nn.sigmoid(0.8 * (r - 5.0))).sum(1)
    reward = reward + 0.02 * jax.random.normal(k_n, (size,))
    return u / 25.0 - 1.0, 2.0 * r / B - 1.0, reward


def _fit(rise_penalty, steps=600):
    critic = WeightedCritic(hidden=16, budget=B)
    s, a, reward = _product_reward_data(jax.random.key(0), 4096)
    params = critic.init(jax.random.key(1), s[:1], a[:1])
    tx = optax.adam(1e-2)

    def loss(p, idx):
        mse = jnp.mean((critic.apply(p, s[idx], a[idx]) - reward[idx]) ** 2)
        return mse + rise_penalty * critic.apply(p, method="rise")

    @jax.jit
    def run(params):
        def one(carry, k):
            p, o = carry
            g = jax.grad(loss)(p, jax.random.randint(k, (256,), 0, s.shape[0]))
            u, o = tx.update(g, o, p)
            return (optax.apply_updates(p, u), o), None

        (p, _), _ = jax.lax.scan(
            one, (params, tx.init(params)), jax.random.split(jax.random.key(2), steps)
        )
        return p

    return critic, run(params)


@pytest.mark.slow
def test_fit_recovers_the_best_allocation_and_the_penalty_flattens_the_unseen_tail():
    critic, fitted = _fit(rise_penalty=1e-4)
    _, unpenalised = _fit(rise_penalty=0.0)

    # the tail r > B/2 never appears in the data: the penalty brings its rise down
    def tail(p):
        g = np.asarray(critic.apply(p, method="grid"))
        return g[-1] - g[B // 2]

    assert tail(fitted) < 0.5 * tail(unpenalised)
    # the critic's exact argmax matches the true optimum on fresh states (within 1 RB)
    u = jax.random.randint(jax.random.key(7), (64, N), 0, 50).astype(jnp.float32)
    s = u / 25.0 - 1.0
    share = u / jnp.maximum(u.sum(1, keepdims=True), 1.0)
    true_table = share[..., None] * jax.nn.sigmoid(0.8 * (jnp.arange(B + 1) - 5.0))
    true_table = jnp.where(
        jnp.arange(B + 1) <= B // 2, true_table, true_table[..., B // 2 : B // 2 + 1]
    )
    best = np.asarray(best_allocation(true_table))
    learned = np.asarray(best_allocation(critic.apply(fitted, s, method="table")))
    value = lambda r: np.take_along_axis(np.asarray(true_table), r[..., None], -1)[..., 0].sum(1)  # noqa: E731
    assert np.abs(learned - best).mean() < 1.0
    assert (value(best) - value(learned)).mean() < 0.01 * value(best).mean()
