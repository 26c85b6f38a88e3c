"""The critic's exact best allocation (critic_argmax): the DP against brute force, the
per-user table against the critic itself, and the candidate it adds when acting."""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents.dql import DQLConfig, init_agent
from difsched_jax.agents.dql.agent import _act
from difsched_jax.agents.dql.argmax import best_allocation, critic_argmax_action, per_user_table
from difsched_jax.agents.dql.networks import critic_values


def _brute(values, budget):
    n = values.shape[0]
    best, arg = -np.inf, None
    for r in itertools.product(range(budget + 1), repeat=n):
        if sum(r) == budget:
            v = sum(values[i, ri] for i, ri in enumerate(r))
            if v > best:
                best, arg = v, r
    return best, arg


@pytest.mark.parametrize("n,budget", [(1, 5), (2, 7), (3, 6), (4, 5)])
def test_best_allocation_is_the_brute_force_optimum(n, budget):
    values = np.asarray(jax.random.normal(jax.random.key(n * 10 + budget), (6, n, budget + 1)))
    r = np.asarray(best_allocation(jnp.asarray(values)))
    assert r.shape == (6, n) and (r.sum(1) == budget).all() and (r >= 0).all()
    for m in range(6):
        best, _ = _brute(values[m], budget)
        got = sum(values[m, i, r[m, i]] for i in range(n))
        assert got == pytest.approx(best, abs=1e-5)


def test_concave_values_share_by_marginal_gains():
    """Two users with gains sqrt(r) and 2·sqrt(r): the optimum of a + 2b on the circle
    gives the second user 4/5 of the budget."""
    r = np.arange(101.0)
    values = jnp.asarray(np.stack([np.sqrt(r), 2 * np.sqrt(r)])[None])
    assert best_allocation(values).tolist() == [[20, 80]]


def _agent(structure="additive", n=5, budget=12.0):
    cfg = DQLConfig.without_bc(
        n, window=50, budget=budget, network="equivariant", critic_structure=structure,
        user_hidden=16, t_dim=8, num_steps=3, num_critics=2, budget_projection=True,
        critic_argmax=True,
    )  # fmt: skip
    return init_agent(jax.random.key(1), cfg)


@pytest.mark.slow
@pytest.mark.parametrize("structure", ["additive", "weighted"])
def test_table_is_the_critic_and_argmax_beats_every_allocation(structure):
    agent = _agent(structure)
    cfg = agent.config
    s = jax.random.uniform(jax.random.key(2), (3, 5), minval=-1, maxval=1)
    table = np.asarray(per_user_table(agent.critic, cfg, s))  # (3, 5, 13)
    # Q at any allocation = mean over users of its table entries (member mean)
    r = np.array([[0, 3, 4, 5, 0], [12, 0, 0, 0, 0], [2, 2, 2, 3, 3]])
    a = jnp.asarray(2.0 * r / cfg.budget - 1.0, jnp.float32)
    q = np.asarray(critic_values(agent.critic, cfg, s, a).mean((0, 1)))
    from_table = table[np.arange(3)[:, None], np.arange(5), r].mean(1)
    np.testing.assert_allclose(q, from_table, rtol=1e-5, atol=1e-6)
    best = np.asarray(critic_argmax_action(agent.critic, cfg, s))
    q_best = np.asarray(critic_values(agent.critic, cfg, s, jnp.asarray(best)).mean((0, 1)))
    assert np.allclose((best + 1) * cfg.budget / 2, np.round((best + 1) * cfg.budget / 2))
    assert np.allclose(((best + 1) * cfg.budget / 2).sum(1), cfg.budget)
    assert (q_best >= q - 1e-6).all()


@pytest.mark.slow
def test_acting_adds_the_argmax_candidate_only_when_asked():
    agent = _agent()
    s = jax.random.uniform(jax.random.key(3), (4, 5), minval=-1, maxval=1)
    best = critic_argmax_action(agent.critic, agent.config, s)
    # with one DDIM candidate the greedy pick is whichever of the two ranks higher
    a = _act(agent.actor, agent.critic, agent.config, jax.random.key(4), s, 1, 1.0, "greedy")
    off = dataclasses.replace(agent.config, critic_argmax=False)
    a_off = _act(agent.actor, agent.critic, off, jax.random.key(4), s, 1, 1.0, "greedy")
    q = lambda x: np.asarray(critic_values(agent.critic, agent.config, s, x).min(0).mean(0))  # noqa: E731
    np.testing.assert_allclose(q(a), np.maximum(q(best), q(a_off)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="critic_argmax needs"):
        DQLConfig.without_bc(5, network="mlp", budget_projection=True, critic_argmax=True)
