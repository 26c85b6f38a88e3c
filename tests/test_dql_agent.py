"""DQL agent: pure update (finite, compiles once), EMA rule, chunked update_many equal
to one-by-one updates, act methods, the env policy adapter, replay buffers."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents.dql import (
    Batch,
    act,
    batch_from_env,
    critic_target,
    ddim_sample,
    dql_policy,
    init_agent,
    policy_params,
    replay_add,
    replay_from_batch,
    replay_init,
    replay_sample,
    replay_sample_mixed,
    update_many,
)
from difsched_jax.agents.dql import agent as dql_agent
from difsched_jax.agents.dql.agent import _act
from difsched_jax.agents.dql.chunked import _batches
from difsched_jax.agents.dql.networks import q_min
from tests.test_dql_networks import TINY

# deterministic critic targets (η = 0), so chunked and one-by-one updates agree exactly
CFG = TINY.replace(q_sample_eta=0.0, budget=20.0, window=50)
# one wrapped jit for every single-update test: it must trace once
_update = jax.jit(chex.assert_max_traces(dql_agent._update, n=1))


def _batch(key, n, cfg=CFG):
    ks = jax.random.split(key, 4)
    u = lambda k, d: jax.random.uniform(k, (n, d), minval=-1.0, maxval=1.0)  # noqa: E731
    return Batch(
        obs=u(ks[0], cfg.state_dim),
        action=u(ks[1], cfg.action_dim),
        reward=jax.random.uniform(ks[2], (n,), minval=0.5, maxval=0.9),
        next_obs=u(ks[3], cfg.state_dim),
        done=jnp.zeros((n,)),
    )


@pytest.fixture(scope="module")
def agent():
    return init_agent(jax.random.PRNGKey(0), CFG)


def _leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.slow
def test_update_finite_and_compiles_once(agent):
    ag = agent
    for i in range(3):
        k = jax.random.PRNGKey(10 + i)
        ag, m = _update(ag, _batch(k, CFG.batch_size), k, _batch(k + 1, CFG.batch_size))
    assert int(ag.step) == 3
    assert set(m) >= {"critic_loss", "bc_loss", "q_lcb", "entropy", "actor_loss", "lr"}
    for name, v in m.items():
        assert v.shape == () and bool(jnp.isfinite(v)), name
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(ag))
    assert not _leaves_equal(ag.actor, agent.actor)
    assert not _leaves_equal(ag.critic, agent.critic)
    assert float(m["lr"]) < CFG.lr  # cosine decay has started


@pytest.mark.slow
def test_ema_schedule(agent):
    """No target change up to step 1000 nor between periods; at 1020 τ-mix of online."""
    b = _batch(jax.random.PRNGKey(1), CFG.batch_size)
    ag, _ = _update(agent, b, jax.random.PRNGKey(2), b)  # step 0
    assert _leaves_equal(ag.actor_target, agent.actor_target)
    assert _leaves_equal(ag.critic_target, agent.critic_target)
    ag = ag.replace(step=jnp.int32(999))
    for step in range(999, 1021):
        before = ag
        ag, _ = _update(ag, b, jax.random.PRNGKey(step), b)
        changed = not _leaves_equal(ag.critic_target, before.critic_target)
        assert changed == (step == 1020), step
        assert changed == (not _leaves_equal(ag.actor_target, before.actor_target))
    tau = CFG.ema_tau
    for t_new, t_old, online in zip(
        jax.tree.leaves(ag.critic_target),
        jax.tree.leaves(before.critic_target),
        jax.tree.leaves(ag.critic),
    ):
        np.testing.assert_allclose(t_new, t_old + tau * (online - t_old), rtol=1e-6, atol=1e-7)


# batch j of update_many, sampled outside it
_sample_j = jax.jit(lambda off, on, k, j: _batches(CFG, off, on, 0.75, jax.random.fold_in(k, j)))


@pytest.mark.slow
@pytest.mark.parametrize("start", [1015, 1020])
def test_update_many_equals_one_by_one(agent, start):
    """Targets computed in chunks (ema_period at a time) give the same agent as updates
    run one by one, across an EMA step, from a misaligned and an aligned start."""
    offline = replay_from_batch(_batch(jax.random.PRNGKey(3), 64))
    online = replay_from_batch(_batch(jax.random.PRNGKey(4), 40), capacity=64)
    ag0 = agent.replace(step=jnp.int32(start))
    key = jax.random.PRNGKey(5)
    n = 13
    ag_many, metrics = update_many(ag0, offline, key, n, online=online, offline_share=0.75)
    assert metrics["critic_loss"].shape == (n,)

    k_batch, _, k_upd = jax.random.split(key, 3)
    ag = ag0
    for j in range(n):
        q_batch, bc_batch = _sample_j(offline, online, k_batch, jnp.int32(j))
        ag, _ = _update(ag, q_batch, jax.random.fold_in(k_upd, j), bc_batch)
    assert int(ag.step) == int(ag_many.step) == start + n
    for x, y in zip(jax.tree.leaves(ag_many), jax.tree.leaves(ag)):
        np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-6)
    # the EMA at step 1020 happened in both
    assert not _leaves_equal(ag_many.critic_target, agent.critic_target)


@pytest.mark.slow
def test_act_methods_and_policy_adapter(agent):
    obs = jax.random.uniform(jax.random.PRNGKey(6), (5, CFG.state_dim), minval=-1, maxval=1)
    for method in ("greedy", "eas", "bc"):
        a = act(agent, jax.random.PRNGKey(7), obs, 8, 1.0, method)
        assert a.shape == (5, CFG.action_dim) and float(jnp.abs(a).max()) <= 1.0
    with pytest.raises(ValueError, match="method"):
        act(agent, jax.random.PRNGKey(7), obs, 8, 1.0, "best")
    with pytest.raises(ValueError, match="critic"):
        act(agent, jax.random.PRNGKey(7), obs, 8, 1.0, "greedy", "stale")

    pp = policy_params(agent, num_candidates=8, eta=1.0, method="greedy")
    counts = jnp.array([0, 25, 50], jnp.int32)

    @jax.jit
    def both(pp, key, counts):  # the adapter = act on the normalised state, in blocks
        s = (2.0 * counts / CFG.window - 1.0)[None]
        a = _act(pp.actor, pp.critic, CFG, key, s, 8, pp.eta, "greedy")[0]
        return dql_policy(pp, key, counts), (a + 1.0) * CFG.budget / 2.0

    r, r_act = both(pp, jax.random.PRNGKey(8), counts)
    assert r.shape == (CFG.action_dim,)
    assert bool(jnp.all((r >= 0) & (r <= CFG.budget)))
    np.testing.assert_allclose(r, r_act, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_replay_buffer():
    buf = replay_init(10, CFG.state_dim, CFG.action_dim)
    b = _batch(jax.random.PRNGKey(9), 7)
    buf = replay_add(buf, b)
    assert (int(buf.size), int(buf.ptr)) == (7, 7)
    buf = replay_add(buf, b)  # wraps: rows 7..9 then 0..3
    assert (int(buf.size), int(buf.ptr)) == (10, 4)
    np.testing.assert_array_equal(buf.data.obs[:4], b.obs[3:])
    np.testing.assert_array_equal(buf.data.obs[7:], b.obs[:3])
    sample = replay_sample(buf, jax.random.PRNGKey(0), 50)
    assert sample.obs.shape == (50, CFG.state_dim)

    off = replay_from_batch(_batch(jax.random.PRNGKey(10), 5).replace(reward=jnp.zeros(5)))
    on = replay_from_batch(_batch(jax.random.PRNGKey(11), 5).replace(reward=jnp.ones(5)), 8)
    m = replay_sample_mixed(off, on, jax.random.PRNGKey(1), 20, 0.75)
    assert int(jnp.sum(m.reward == 0)) == 15  # round(0.75·20) offline rows
    empty = replay_init(8, CFG.state_dim, CFG.action_dim)
    m = replay_sample_mixed(off, empty, jax.random.PRNGKey(1), 20, 0.5)
    assert int(jnp.sum(m.reward == 0)) == 20  # online empty: all offline


@pytest.mark.slow
def test_critic_target_options(agent):
    """Max-Q backup = best of n target-actor samples per member; done masking optional."""
    cfg = CFG.replace(max_q_backup=True, max_q_samples=4, q_sample_eta=1.0, mask_done=True)
    ag = agent.replace(config=cfg)
    b = _batch(jax.random.PRNGKey(12), 6, cfg).replace(done=jnp.array([0, 0, 0, 0, 0, 1.0]))
    key = jax.random.PRNGKey(13)

    @jax.jit
    def both(ag, b):
        got = critic_target(ag, key, b.next_obs, b.reward, b.done)
        s_rep = jnp.repeat(b.next_obs, 4, axis=0)
        a = ddim_sample(cfg, ag.actor_target, key, s_rep, cfg.q_sample_eta)
        q = q_min(ag.critic_target, cfg, s_rep, a).reshape(cfg.num_critics, 6, 4).max(-1)
        return got, b.reward + cfg.gamma * (1.0 - b.done) * q

    got, want = both(ag, b)
    assert got.shape == (cfg.num_critics, 6)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got[:, 5], b.reward[5])  # done: no bootstrap


def test_batch_from_env():
    obs = jnp.array([[[0, 100, 200]]])  # (T=1, S=1, N=3) counts
    r = jnp.array([[[0.0, 10.0, 20.0]]])  # resource blocks, B = 20
    b = batch_from_env(obs, r, jnp.array([[0.75]]), obs, jnp.array([[True]]), 200, 20.0)
    np.testing.assert_allclose(b.obs, [[-1.0, 0.0, 1.0]])
    np.testing.assert_allclose(b.action, [[-1.0, 0.0, 1.0]])
    np.testing.assert_allclose(b.reward, [0.75])
    np.testing.assert_allclose(b.done, [1.0])


def test_budget_penalty_is_free_between_half_and_one_and_a_half_budgets():
    cfg = CFG.replace(budget_projection=True)  # 2 users
    a = jnp.array([[-1.0, -1.0], [0.0, -1.0], [0.5, 0.5], [1.0, 1.0], [-0.6, -0.6]])
    # Σr/B = 0, 0.5, 1.5, 2, 0.4 → penalty relu(|x − 1| − ½)²
    want = [0.25, 0.0, 0.0, 0.25, 0.01]
    got = [float(dql_agent.budget_penalty(cfg, row[None])) for row in a]
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.slow
def test_update_with_equivariant_networks_two_critics_is_finite():
    """Two members per ensemble: the LCB's spread must not give NaN gradients where
    the members agree (sqrt at 0), even with lcb_coef 0."""
    cfg = TINY.replace(
        state_dim=3, action_dim=3, network="equivariant", user_hidden=16, num_critics=2,
        gamma=0.0, budget_projection=True, lcb_coef=0.0, w_bc=0.0, w_e=0.0,
    )  # fmt: skip
    agent = init_agent(jax.random.PRNGKey(0), cfg)
    agent = agent.replace(critic=jax.tree.map(lambda x: x.at[1].set(x[0]), agent.critic))
    agent = agent.replace(critic=jax.tree.map(lambda x: x.at[:, 1].set(x[:, 0]), agent.critic))
    new, m = dql_agent.update(agent, _batch(jax.random.PRNGKey(1), 16, cfg), jax.random.PRNGKey(2))
    assert np.isfinite(float(m["actor_grad_norm"])) and float(m["actor_grad_norm"]) > 0
    assert all(bool(jnp.isfinite(x).all()) for x in jax.tree.leaves(new.actor))


def test_unit_scaled_floors_the_divisor():
    """BC: loss/|loss| (the reference). Entropy: the divisor floored at 1, so an NLL near
    zero is not amplified (its gradient would be 1/|NLL|)."""
    f = dql_agent.unit_scaled
    assert float(f(jnp.float32(-0.25))) == -1.0
    assert float(jax.grad(f)(jnp.float32(0.25))) == pytest.approx(4.0)
    assert float(f(jnp.float32(0.01), 1.0)) == pytest.approx(0.01)
    assert float(jax.grad(lambda x: f(x, 1.0))(jnp.float32(1e-4))) == pytest.approx(1.0)
    assert float(jax.grad(lambda x: f(x, 1.0))(jnp.float32(-5.0))) == pytest.approx(0.2)


@pytest.mark.slow  # compiles a second update (another tx)
def test_optimiser_is_built_once_in_the_agent(agent):
    """The agent carries its optimiser (`tx`), one object per config, and the update
    uses it: with a transformation that zeroes every step, no parameter moves."""
    import optax

    again = init_agent(jax.random.PRNGKey(5), CFG)
    assert again.tx is agent.tx is dql_agent.make_optimizer(CFG)
    assert init_agent(jax.random.PRNGKey(5), CFG.replace(lr=1e-4)).tx is not agent.tx
    frozen = agent.replace(tx=optax.set_to_zero())
    k = jax.random.PRNGKey(3)
    moved, _ = dql_agent.update(frozen, _batch(k, CFG.batch_size), k)
    assert _leaves_equal(moved.actor, agent.actor) and _leaves_equal(moved.critic, agent.critic)
    assert int(moved.step) == 1
