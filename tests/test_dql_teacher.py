"""The diffusion actor that decides by itself (issue 23): few-step DDIM, the critic as
teacher, acting modes and the who-decides diagnostic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents.dql import (
    Batch,
    DQLConfig,
    candidate_sources,
    ddim_sample,
    init_agent,
    update,
)
from difsched_jax.agents.dql.agent import _act, actor_candidates
from difsched_jax.agents.dql.argmax import critic_argmax_action
from difsched_jax.agents.dql.distill import distill_actor, teacher_labels
from difsched_jax.agents.dql.sampling import sample_steps
from difsched_jax.env.channel import whole_blocks


def _config(**kw):
    base = dict(
        window=50, budget=12.0, network="equivariant", critic_structure="weighted",
        user_hidden=16, t_dim=8, num_steps=10, num_critics=2, budget_projection=True,
        clip_denoised=True, batch_size=64, gamma=0.0, lr=3e-3,
    )  # fmt: skip
    return DQLConfig.without_bc(4, **{**base, **kw})


def test_sample_steps_spread_evenly_and_keep_the_last():
    cfg = _config()
    np.testing.assert_array_equal(sample_steps(cfg), np.arange(1, 11))
    np.testing.assert_array_equal(sample_steps(cfg, 10), np.arange(1, 11))
    assert sample_steps(cfg, 1).tolist() == [10]
    steps = sample_steps(cfg, 4)
    assert steps.tolist() == [1, 4, 7, 10] and len(steps) == 4
    with pytest.raises(ValueError, match="≥ 1"):
        sample_steps(cfg, 0)


@pytest.mark.slow
def test_all_steps_given_explicitly_is_the_full_sampler():
    cfg = _config()
    actor = init_agent(jax.random.key(0), cfg).actor
    s = jax.random.uniform(jax.random.key(1), (5, 4), minval=-1, maxval=1)
    full = ddim_sample(cfg, actor, jax.random.key(2), s, 1.0)
    again = ddim_sample(cfg, actor, jax.random.key(2), s, 1.0, steps=10)
    np.testing.assert_array_equal(full, again)
    few = ddim_sample(cfg, actor, jax.random.key(2), s, 1.0, steps=2)
    assert few.shape == (5, 4) and not np.array_equal(few, full)
    assert np.all(np.abs(np.asarray(few)) <= 1.0)


def test_config_checks_teacher_and_steps():
    with pytest.raises(ValueError, match="teacher must be one of"):
        _config(teacher="oracle")
    with pytest.raises(ValueError, match="sample_steps must be at most"):
        _config(sample_steps=11)
    with pytest.raises(ValueError, match="teacher='argmax' needs"):
        DQLConfig.without_bc(4, network="mlp", teacher="argmax")


def _share_labels(states, budget):
    """Whole blocks in proportion to (s + 1)²: a smooth, permutation-equivariant choice."""
    w = (states + 1.0) ** 2
    r = jax.vmap(whole_blocks)(budget * w / w.sum(-1, keepdims=True))
    return 2.0 * r / budget - 1.0


@pytest.mark.slow
def test_distillation_makes_the_actor_sample_the_labels():
    """A fresh actor distilled on whole-block labels samples them closely (one DDIM
    sample, η = 0), and closer in the fair-share space than in the action box."""
    err = {}
    for space in ("fair_share", "box"):
        cfg = _config(actor_space=space, dropout=0.0, batch_size=128)
        states = jax.random.uniform(jax.random.key(1), (2048, 4), minval=-1, maxval=1)
        labels = _share_labels(states, cfg.budget)
        actor, curve = distill_actor(
            init_agent(jax.random.key(2), cfg).actor, cfg, states, labels,
            jax.random.key(3), updates=1500, lr=3e-3, chunk=500,
        )  # fmt: skip
        assert len(curve) == 3 and curve[-1] < curve[0]
        mine = actor_candidates(actor, cfg, jax.random.key(4), states[:256], 1, 0.0)[:, 0]
        blocks = (np.asarray(mine) - np.asarray(labels[:256])) * cfg.budget / 2
        err[space] = float(np.abs(blocks).mean())
    assert err["fair_share"] < 0.5 and err["fair_share"] < err["box"], err


def test_teacher_labels_are_the_critics_argmax_in_chunks():
    cfg = _config()
    critic = init_agent(jax.random.key(0), cfg).critic
    states = jax.random.uniform(jax.random.key(1), (1030, 4), minval=-1, maxval=1)
    labels = teacher_labels(critic, cfg, states)  # two chunks, the second padded
    assert labels.shape == (1030, 4)
    np.testing.assert_array_equal(labels[1024:], critic_argmax_action(critic, cfg, states[1024:]))


@pytest.mark.slow
def test_teacher_term_enters_the_actor_loss():
    cfg = _config(teacher="argmax", sample_steps=2, batch_size=8)
    agent = init_agent(jax.random.key(0), cfg)
    s = jax.random.uniform(jax.random.key(1), (8, 4), minval=-1, maxval=1)
    batch = Batch(obs=s, action=s, reward=jnp.ones(8), next_obs=s, done=jnp.zeros(8))
    _, metrics = update(agent, batch, jax.random.key(2))
    assert float(metrics["teacher_loss"]) > 0
    sources = candidate_sources(agent, jax.random.key(3), s, 4)
    assert 0.0 <= float(sources["argmax_wins"]) <= 1.0
    assert float(sources["argmax_q_margin"]) >= -1e-6


@pytest.mark.slow
def test_critic_only_offline_phase_leaves_the_actor():
    cfg = _config(w_q=0.0, w_e=0.0, batch_size=8)
    agent = init_agent(jax.random.key(0), cfg)
    s = jax.random.uniform(jax.random.key(1), (8, 4), minval=-1, maxval=1)
    batch = Batch(obs=s, action=s, reward=jnp.ones(8), next_obs=s, done=jnp.zeros(8))
    new, metrics = update(agent, batch, jax.random.key(2))
    jax.tree.map(np.testing.assert_array_equal, new.actor, agent.actor)
    assert float(metrics["actor_grad_norm"]) == 0.0 and float(metrics["critic_loss"]) > 0


@pytest.mark.slow
def test_acting_modes_actor_alone_and_argmax_alone():
    cfg = _config(critic_argmax=True)
    agent = init_agent(jax.random.key(0), cfg)
    s = jax.random.uniform(jax.random.key(1), (3, 4), minval=-1, maxval=1)
    key = jax.random.key(2)
    alone = _act(agent.actor, agent.critic, cfg, key, s, 1, 1.0, "greedy", argmax=False)
    k_s, _ = jax.random.split(key)
    np.testing.assert_array_equal(alone, actor_candidates(agent.actor, cfg, k_s, s, 1, 1.0)[:, 0])
    only = _act(agent.actor, agent.critic, cfg, key, s, 1, 1.0, "argmax")
    np.testing.assert_array_equal(only, critic_argmax_action(agent.critic, cfg, s))
