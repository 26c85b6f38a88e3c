"""DQL building blocks: schedule, embedding, Mish, networks, samplers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents.dql import DQLConfig, ddim_sample, ddpm_sample, make_schedule, vp_betas
from difsched_jax.agents.dql.networks import (
    critic_values,
    init_actor,
    init_critics,
    make_actor,
    mish,
    q_min,
)
from difsched_jax.agents.dql.schedule import timestep_embedding

# one tiny config for every DQL test, so jit caches are shared
TINY = DQLConfig(
    state_dim=3, action_dim=2, hidden=32, t_dim=16, num_steps=5, num_critics=3, batch_size=16
)


def _spec_betas(T, bmin, bmax):
    # SPEC §5 written out term by term
    return np.array(
        [1 - np.exp(-bmin / T - 0.5 * (bmax - bmin) * (2 * i - 1) / T**2) for i in range(1, T + 1)]
    )


@pytest.mark.parametrize("bmax", [1.0, 10.0])
def test_vp_schedule_matches_spec_formula(bmax):
    np.testing.assert_allclose(vp_betas(30, 0.1, bmax), _spec_betas(30, 0.1, bmax), rtol=1e-12)
    sch = make_schedule(30, 0.1, bmax)
    np.testing.assert_allclose(sch.alpha, 1 - sch.beta, rtol=1e-6)
    np.testing.assert_allclose(sch.alpha_bar, np.cumprod(1 - _spec_betas(30, 0.1, bmax)), rtol=1e-5)
    # Σ log α_i = −β_min − ½(β_max − β_min): ᾱ_T ≈ 0.58 for the reference's β_max = 1
    np.testing.assert_allclose(sch.alpha_bar[-1], np.exp(-0.1 - 0.5 * (bmax - 0.1)), rtol=1e-5)
    assert sch.alpha_bar_prev[0] == 1.0
    np.testing.assert_array_equal(sch.alpha_bar_prev[1:], sch.alpha_bar[:-1])


def test_reference_schedule_never_reaches_noise():
    assert abs(make_schedule(30, 0.1, 1.0).alpha_bar[-1] - 0.577) < 0.001
    assert make_schedule(30, 0.1, 10.0).alpha_bar[-1] < 0.01


def test_timestep_embedding():
    emb = timestep_embedding(jnp.array([0, 1, 30]), 128)
    assert emb.shape == (3, 128)
    np.testing.assert_allclose(emb[0, :64], 1.0)  # cos(0)
    np.testing.assert_allclose(emb[0, 64:], 0.0)  # sin(0)
    f = np.exp(-np.log(10_000) * np.arange(64) / 64)
    np.testing.assert_allclose(emb[2], np.concatenate([np.cos(30 * f), np.sin(30 * f)]), atol=1e-5)


def test_mish_matches_definition_and_gradient():
    x = jnp.linspace(-30.0, 40.0, 20001)
    np.testing.assert_allclose(mish(x), jax.nn.mish(x), atol=1e-5)
    g = jax.vmap(jax.grad(mish))(x)
    np.testing.assert_allclose(g, jax.vmap(jax.grad(jax.nn.mish))(x), atol=1e-5)


@pytest.mark.slow
def test_network_shapes_and_init():
    key = jax.random.PRNGKey(0)
    actor = init_actor(key, TINY)
    b = 7
    a = jnp.zeros((b, TINY.action_dim))
    s = jnp.zeros((b, TINY.state_dim))
    eps = jax.jit(make_actor(TINY).apply)(actor, a, s, jnp.full((b,), 3))
    assert eps.shape == (b, TINY.action_dim)
    critic = init_critics(key, TINY)
    p = critic["params"]
    k = TINY.num_critics
    assert p["Dense_1"]["kernel"].shape == (2, k, TINY.hidden, TINY.hidden)
    for i in range(3):  # EDAC init: hidden biases 0.1, last layer U(±3e-3)
        np.testing.assert_allclose(p[f"Dense_{i}"]["bias"], 0.1)
    assert float(jnp.abs(p["Dense_3"]["kernel"]).max()) <= 3e-3
    assert float(jnp.abs(p["Dense_3"]["bias"]).max()) <= 3e-3
    # members are independent draws, not copies
    w = p["Dense_1"]["kernel"].reshape(2 * k, -1)
    assert len({float(x) for x in w[:, 0]}) == 2 * k
    q, qm = jax.jit(lambda c: (critic_values(c, TINY, s, a), q_min(c, TINY, s, a)))(critic)
    assert q.shape == (2, k, b)
    np.testing.assert_allclose(qm, jnp.minimum(q[0], q[1]))


@pytest.mark.slow
def test_bf16_matmuls_close_to_float32():
    key = jax.random.PRNGKey(1)
    cfg16 = TINY.replace(matmul_dtype="bfloat16")
    critic = init_critics(key, TINY)
    s = jax.random.uniform(key, (5, TINY.state_dim), minval=-1, maxval=1)
    a = jax.random.uniform(key, (5, TINY.action_dim), minval=-1, maxval=1)
    q32, q16 = (jax.jit(lambda p, c=c: critic_values(p, c, s, a))(critic) for c in (TINY, cfg16))
    np.testing.assert_allclose(q16, q32, atol=2e-3)
    g32, g16 = (
        jax.jit(jax.grad(lambda p, c=c: critic_values(p, c, s, a).sum()))(critic)
        for c in (TINY, cfg16)
    )
    for x, y in zip(jax.tree.leaves(g32), jax.tree.leaves(g16)):
        np.testing.assert_allclose(y, x, atol=0.05 * float(jnp.abs(x).max()) + 1e-6)


@pytest.mark.slow
def test_samplers():
    key = jax.random.PRNGKey(2)
    actor = init_actor(key, TINY)
    s = jax.random.uniform(key, (6, TINY.state_dim), minval=-1, maxval=1)
    ddim = jax.jit(lambda k, eta: ddim_sample(TINY, actor, k, s, eta))
    a0 = ddim(jax.random.PRNGKey(3), 0.0)
    a1 = ddim(jax.random.PRNGKey(4), 0.0)
    np.testing.assert_array_equal(a0, a1)  # η = 0: deterministic
    b0, b1 = ddim(jax.random.PRNGKey(3), 1.0), ddim(jax.random.PRNGKey(4), 1.0)
    assert b0.shape == (6, TINY.action_dim) and not np.allclose(b0, b1)
    assert float(jnp.abs(b0).max()) <= 1.0
    c = jax.jit(lambda k: ddpm_sample(TINY, actor, k, s))(key)
    assert c.shape == (6, TINY.action_dim) and bool(jnp.all(jnp.isfinite(c)))
    assert float(jnp.abs(c).max()) <= 1.0


def test_config_validation():
    with pytest.raises(ValueError, match="num_critics"):
        DQLConfig(state_dim=2, action_dim=2, num_critics=1)
    with pytest.raises(ValueError, match="matmul_dtype"):
        DQLConfig(state_dim=2, action_dim=2, matmul_dtype="float16")
    with pytest.raises(ValueError, match="state_dim"):
        DQLConfig(state_dim=0, action_dim=2)
    bc = DQLConfig.with_bc(8)
    nobc = DQLConfig.without_bc(8)
    assert (bc.lr, bc.lcb_coef, bc.w_bc) == (5e-4, 0.15, 1.0)
    assert (nobc.lr, nobc.lcb_coef, nobc.w_bc) == (5e-3, 0.01, 0.0)
    assert DQLConfig.from_dict(bc.to_dict()) == bc


@pytest.mark.slow
def test_samplers_match_the_reference_loops():
    """DDIM and DDPM equal the reference's per-step formulas written out in NumPy."""
    key = jax.random.PRNGKey(5)
    actor = init_actor(key, TINY)
    s = jax.random.uniform(key, (4, TINY.state_dim), minval=-1, maxval=1)
    eps_fn = jax.jit(lambda a, t: make_actor(TINY).apply(actor, a, s, jnp.full((4,), t)))
    sch = make_schedule(TINY.num_steps, TINY.beta_min, TINY.beta_max)
    ab, beta, alpha = (np.asarray(x, np.float64) for x in (sch.alpha_bar, sch.beta, sch.alpha))
    k0, k1 = jax.random.split(key)
    shape = (4, TINY.action_dim)
    z0 = np.asarray(jax.random.normal(k0, shape), np.float64)
    z = np.asarray(jax.random.normal(k1, (TINY.num_steps,) + shape), np.float64)
    eta = 0.7
    a = z0 * eta * np.sqrt(1 - ab[-1])
    for step in range(TINY.num_steps, 0, -1):  # reference sample_DDIM
        al, al_prev = ab[step - 1], (ab[step - 2] if step > 1 else 1.0)
        eps = np.asarray(eps_fn(jnp.asarray(a, jnp.float32), step), np.float64)
        sigma = eta * np.sqrt((1 - al_prev) / (1 - al)) * np.sqrt(1 - al / al_prev)
        x0 = np.sqrt(al_prev) * (a - np.sqrt(1 - al) * eps) / np.sqrt(al)
        a = x0 + np.sqrt(max(1 - al_prev - sigma**2, 0.0)) * eps + sigma * z[step - 1]
    got = ddim_sample(TINY, actor, key, s, eta, clip=False)
    np.testing.assert_allclose(got, a, rtol=1e-4, atol=1e-5)

    a = z0 * np.sqrt(1 - ab[-1])
    for step in range(TINY.num_steps, 0, -1):  # reference sample_DDPM
        i = step - 1
        eps = np.asarray(eps_fn(jnp.asarray(a, jnp.float32), step), np.float64)
        mean = (a - beta[i] / np.sqrt(1 - ab[i]) * eps) / np.sqrt(alpha[i])
        a = mean + (np.sqrt(beta[i]) * z[i] if step > 1 else 0.0)
    got = ddpm_sample(TINY, actor, key, s, clip=False)
    np.testing.assert_allclose(got, a, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_ddim_clip_denoised_stays_in_the_box_and_is_the_same_step(monkeypatch):
    """clip_denoised: every step's x̂0 clipped to [−1, 1] keeps the chain in the box (an
    untrained actor leaves it); with the box made huge it is the plain DDIM step."""
    from difsched_jax.agents.dql import sampling

    agent_actor = init_actor(jax.random.PRNGKey(0), TINY)
    s = jax.random.uniform(jax.random.PRNGKey(1), (64, TINY.state_dim), minval=-1, maxval=1)
    clipped = TINY.replace(clip_denoised=True)
    for eta in (0.0, 1.0):
        key = jax.random.PRNGKey(2)
        plain = ddim_sample(TINY, agent_actor, key, s, eta, clip=False)
        inside = ddim_sample(clipped, agent_actor, key, s, eta, clip=False)
        assert float(jnp.abs(plain).max()) > 1.5  # the untrained chain leaves the box
        assert float(jnp.abs(inside).max()) <= 1.0 + 1e-5
    monkeypatch.setattr(sampling, "BOX", 1e9)
    for eta in (0.0, 1.0):
        key = jax.random.PRNGKey(3)
        np.testing.assert_allclose(
            ddim_sample(clipped, agent_actor, key, s, eta, clip=False),
            ddim_sample(TINY, agent_actor, key, s, eta, clip=False),
            atol=1e-4,
        )


EQUI = TINY.replace(state_dim=5, action_dim=5, network="equivariant", user_hidden=16)


@pytest.mark.slow
@pytest.mark.parametrize("structure", ["additive", "weighted"])
def test_equivariant_networks_permute_with_users_and_serve_any_count(structure):
    cfg = EQUI.replace(critic_structure=structure)
    actor = init_actor(jax.random.PRNGKey(0), cfg)
    critic = init_critics(jax.random.PRNGKey(1), cfg)
    k = jax.random.split(jax.random.PRNGKey(2), 2)
    s = jax.random.uniform(k[0], (6, 5), minval=-1, maxval=1)
    a = jax.random.uniform(k[1], (6, 5), minval=-1, maxval=1)
    perm = jnp.array([3, 0, 4, 1, 2])
    net = make_actor(cfg)
    eps = net.apply(actor, a, s, jnp.full((6,), 2))
    eps_p = net.apply(actor, a[:, perm], s[:, perm], jnp.full((6,), 2))
    np.testing.assert_allclose(eps[:, perm], eps_p, atol=1e-5)  # equivariant
    q = critic_values(critic, cfg, s, a)
    np.testing.assert_allclose(q, critic_values(critic, cfg, s[:, perm], a[:, perm]), atol=1e-5)
    # the same parameters decide for 9 users (nothing in them depends on N)
    s9 = jnp.concatenate([s, s[:, :4]], axis=1)
    assert net.apply(actor, s9, s9, jnp.full((6,), 1)).shape == (6, 9)
    assert critic_values(critic, cfg, s9, s9).shape == (2, cfg.num_critics, 6)


@pytest.mark.slow
@pytest.mark.parametrize("structure", ["additive", "weighted"])
def test_equivariant_critic_has_no_cross_user_action_terms(structure):
    """Q(s, a) − Q(s, a') with a, a' differing in user 0 only does not depend on the
    other users' actions: the reward is a sum of per-user terms given the state."""
    cfg = EQUI.replace(critic_structure=structure)
    critic = init_critics(jax.random.PRNGKey(4), cfg)
    k = jax.random.split(jax.random.PRNGKey(5), 3)
    s = jax.random.uniform(k[0], (8, 5), minval=-1, maxval=1)
    a, b = (jax.random.uniform(kk, (8, 5), minval=-1, maxval=1) for kk in k[1:])

    def diff(others):  # user 0 from −0.5 to 0.9, the others as given
        q = lambda x: critic_values(critic, cfg, s, others.at[:, 0].set(x))  # noqa: E731
        return q(0.9) - q(-0.5)

    np.testing.assert_allclose(diff(a), diff(b), atol=1e-5)
    assert float(jnp.abs(diff(a)).max()) > 1e-6


def test_equivariant_config_checks():
    with pytest.raises(ValueError, match="network"):
        TINY.replace(network="transformer")
    with pytest.raises(ValueError, match="critic_structure"):
        EQUI.replace(critic_structure="mixed")
    with pytest.raises(ValueError, match="state_dim == action_dim"):
        TINY.replace(network="equivariant")
