"""Many updates in one `lax.scan`, batches drawn from device replay buffers inside jit.

The hot spot of an update is the critic target: a 30-step DDIM chain of the
target actor on the next states. The targets (actor and critic) only change by
EMA, at most once every `ema_period` updates, so the targets of the coming
updates are computed together, one chain on P·B states (P = ema_period) instead
of P chains on B states: the same values, much better matmul shapes. The buffer
of targets is recomputed when it runs out or right after an EMA step, so the
result equals running the updates one by one (only the random draws differ).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from difsched_jax.agents.dql.agent import DQLAgent, critic_target, update_with_target
from difsched_jax.agents.dql.replay import ReplayBuffer, replay_sample, replay_sample_mixed


def _batches(cfg, offline, online, offline_share, key):
    """(q_batch, bc_batch) of one update, a pure function of its key."""
    bs = cfg.batch_size
    k_bc, k_q = jax.random.split(key)
    if online is None:  # one offline batch serves BC and the critic
        return replay_sample(offline, k_bc, bs), None
    bc_batch = replay_sample(offline, k_bc, bs)
    return replay_sample_mixed(offline, online, k_q, bs, offline_share), bc_batch


def _ema_at(cfg, step):
    """Does the update with counter `step` end with an EMA of the targets?"""
    return (step % cfg.ema_period == 0) & (step > cfg.ema_start)


@partial(jax.jit, static_argnames=("num_updates",))
def update_many(
    agent: DQLAgent,
    offline: ReplayBuffer,
    key,
    num_updates: int,
    online: ReplayBuffer | None = None,
    offline_share=1.0,
):
    """`num_updates` updates in one `lax.scan`; returns (agent, metrics) with metrics
    stacked (num_updates,).

    Without `online`: one offline batch per update serves BC and the critic.
    With `online`: BC on an offline batch, critic and Q-loss on a hybrid batch with
    round(offline_share·B) offline rows (`offline_share` traced; all offline while
    `online` is empty)."""
    cfg = agent.config
    p, bs = cfg.ema_period, cfg.batch_size
    k_batch, k_tgt, k_upd = jax.random.split(key, 3)
    batches = partial(_batches, cfg, offline, online, offline_share)

    def targets_from(ag, j, count):
        """Targets (P, K, B) of the updates at positions j..j+count−1 (rest unused)."""
        keys = jax.vmap(lambda i: jax.random.fold_in(k_batch, j + i))(jnp.arange(p))
        q_batch = jax.vmap(lambda k: batches(k)[0])(keys)  # leaves (P, B, ...)
        n = count * bs
        flat = lambda x: x[:count].reshape((n,) + x.shape[2:])  # noqa: E731
        tgt = critic_target(
            ag,
            jax.random.fold_in(k_tgt, j),
            flat(q_batch.next_obs),
            flat(q_batch.reward),
            flat(q_batch.done),
        )  # (K, count·B)
        tgt = tgt.reshape(-1, count, bs).transpose(1, 0, 2)  # (count, K, B)
        return jnp.zeros((p,) + tgt.shape[1:], tgt.dtype).at[:count].set(tgt)

    def body(carry, j):
        ag, tbuf, t_start, t_end = carry
        need = (j >= t_end) | ((j > 0) & _ema_at(cfg, ag.step - 1))
        # right before an EMA only this update's target is valid: compute just one
        branch = jnp.where(need, jnp.where(_ema_at(cfg, ag.step), 1, 2), 0)
        tbuf, t_start, t_end = jax.lax.switch(
            branch,
            [
                lambda: (tbuf, t_start, t_end),
                lambda: (targets_from(ag, j, 1), j, j + 1),
                lambda: (targets_from(ag, j, p), j, j + p),
            ],
        )
        q_batch, bc_batch = batches(jax.random.fold_in(k_batch, j))
        target = jax.lax.dynamic_index_in_dim(tbuf, j - t_start, keepdims=False)  # (K, B)
        ag, metrics = update_with_target(
            ag, q_batch, target, jax.random.fold_in(k_upd, j), bc_batch
        )
        return (ag, tbuf, t_start, t_end), metrics

    k = cfg.num_critics
    tbuf0 = jnp.zeros((p, k, bs), jnp.float32)
    carry0 = (agent, tbuf0, jnp.int32(0), jnp.int32(0))
    (agent, *_), metrics = jax.lax.scan(body, carry0, jnp.arange(num_updates, dtype=jnp.int32))
    return agent, metrics
