"""Distil the critic's decisions into the diffusion actor (issue 23; PA-RL's "improve
the actions with the critic, then clone them back").

After the offline updates, the critic of the chosen checkpoint labels every offline
state with its exact best allocation (`argmax.critic_argmax_action`), and the actor is
trained on those labels alone: the noise-prediction loss of behaviour cloning, with the
critic held fixed, so the targets stand still. The actor's own samples then make the
critic's choice, and it decides without the argmax (which exists only for critics that
are a sum over users). The oracle never labels anything.

Shapes: states (M, N) in [−1, 1]; actions (M, N) in [−1, 1].
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax

from difsched_jax.agents.dql.argmax import critic_argmax_action
from difsched_jax.agents.dql.config import DQLConfig
from difsched_jax.agents.dql.sampling import bc_loss

LABEL_CHUNK = 1024  # states labelled per call (the DP's tables: N·(B+1)·chunk floats)


def teacher_labels(critic, cfg: DQLConfig, states) -> jax.Array:
    """The critic's best allocation (as an action) for each state, (M, N), in chunks."""
    label = jax.jit(lambda s: critic_argmax_action(critic, cfg, s))
    m = states.shape[0]
    pad = (-m) % LABEL_CHUNK
    padded = jnp.concatenate([states, jnp.zeros((pad, states.shape[1]), states.dtype)])
    chunks = [label(padded[i : i + LABEL_CHUNK]) for i in range(0, m + pad, LABEL_CHUNK)]
    return jnp.concatenate(chunks)[:m]


def distill_optimizer(cfg: DQLConfig, updates: int, lr: float) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.adam(optax.cosine_decay_schedule(lr, updates)),
    )


@partial(jax.jit, static_argnames=("cfg", "num_updates", "total", "lr"))
def _distill_chunk(actor, opt_state, cfg, states, labels, key, num_updates, total, lr):
    tx = distill_optimizer(cfg, total, lr)

    def step(carry, k):
        params, opt = carry
        k_idx, k_loss = jax.random.split(k)
        idx = jax.random.randint(k_idx, (cfg.batch_size,), 0, states.shape[0])
        loss, grad = jax.value_and_grad(
            lambda p: bc_loss(cfg, p, k_loss, states[idx], labels[idx])
        )(params)
        upd, opt = tx.update(grad, opt, params)
        return (optax.apply_updates(params, upd), opt), loss

    keys = jax.random.split(key, num_updates)
    (actor, opt_state), losses = jax.lax.scan(step, (actor, opt_state), keys)
    return actor, opt_state, losses


def distill_actor(
    actor, cfg: DQLConfig, states, labels, key, updates: int, lr: float, chunk: int = 1000
):
    """`updates` actor-only updates of the noise-prediction loss on (states, labels),
    batches of cfg.batch_size, Adam with cosine decay from `lr`. Returns (actor, the mean
    loss of each chunk of updates)."""
    opt_state = distill_optimizer(cfg, updates, lr).init(actor)
    curve = []
    done = 0
    while done < updates:
        n = min(chunk, updates - done)
        k = jax.random.fold_in(key, done)
        actor, opt_state, losses = _distill_chunk(
            actor, opt_state, cfg, states, labels, k, n, updates, lr
        )
        curve.append(float(jnp.mean(losses)))
        done += n
    return actor, curve
