"""Gymnax-style pure functions for one slice (SPEC §1); vmap them over slices.

    reset(key, params, spec) -> (obs, state)
    step(key, state, action, params, spec) -> (obs, state, reward, done, info)

`obs` is the observed packet count per user, (N,) int32. `action` is the
requested allocation r in resource blocks, (N,) float (sanitised: NaN -> 0,
negative -> 0, above B -> B). `reward` = 1 - loss. When an episode ends the
state is reset in the same step and the returned `obs` is the new episode's
first one; `info["next_obs"]` is the true successor of the step's window.
The step is a pipeline: budget -> channel -> losses -> traffic -> auto-reset.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from difsched_jax.env.channel import enforce_budget, grid_index, sanitize_allocation, success_prob
from difsched_jax.env.sampling import lost_packets, markov_next
from difsched_jax.env.types import EnvParams, EnvSpec, EnvState


def reset(key: jax.Array, params: EnvParams, spec: EnvSpec) -> tuple[jax.Array, EnvState]:
    """Cursors uniform in [0, T-2]; the first state is the entry after the cursor."""
    k_cursor, k_channel = jax.random.split(key)
    length = params.actual.shape[0]
    start = jax.random.randint(k_cursor, (spec.num_users,), 0, length - 1)  # (N,) in [0, T-2]
    cursors = ((start + 1) % length).astype(jnp.int32)
    counts = params.actual[cursors]
    obs = params.observed[cursors] if spec.traffic == "trace" else counts
    state = EnvState(
        cursors=cursors,
        counts=counts,
        obs=obs,
        channel=_draw_channel(k_channel, params),
        t=jnp.zeros((), jnp.int32),
    )
    return state.obs, state


def _draw_channel(key: jax.Array, params: EnvParams) -> jax.Array:
    return jax.random.randint(key, (), 0, params.sigmoid_k.shape[0]).astype(jnp.int32)


def window_loss(
    key: jax.Array, counts: jax.Array, granted: jax.Array, channel: jax.Array, params: EnvParams
) -> tuple[jax.Array, jax.Array]:
    """Packet-loss rate of one window and whether it was empty (nobody sent)."""
    idx = grid_index(granted, params.budget)  # (N,)
    p = success_prob(idx, params.sigmoid_k[channel], params.sigmoid_s[channel])  # (N,)
    lost = lost_packets(key, counts, 1.0 - p)  # (N,)
    total = jnp.sum(counts)
    empty = total == 0
    loss = jnp.where(empty, 0.0, jnp.sum(lost) / jnp.maximum(total, 1)).astype(jnp.float32)
    return loss, empty


def _advance_traffic(key: jax.Array, state: EnvState, params: EnvParams, spec: EnvSpec):
    if spec.traffic == "markov":
        counts = markov_next(key, state.counts, params.markov_cdf)
        return state.cursors, counts, counts
    cursors = (state.cursors + 1) % params.actual.shape[0]
    return cursors, params.actual[cursors], params.observed[cursors]


def step(
    key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams, spec: EnvSpec
) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict]:
    k_budget, k_loss, k_traffic, k_channel, k_reset = jax.random.split(key, 5)
    requested = sanitize_allocation(action, params.budget)  # (N,)
    granted = enforce_budget(k_budget, requested, params.budget)  # (N,)
    loss, empty = window_loss(k_loss, state.counts, granted, state.channel, params)

    cursors, counts, obs = _advance_traffic(k_traffic, state, params, spec)
    t = state.t + 1
    done = t >= spec.episode_len
    next_state = EnvState(
        cursors=cursors, counts=counts, obs=obs, channel=_draw_channel(k_channel, params), t=t
    )
    _, reset_state = reset(k_reset, params, spec)
    new_state = jax.tree.map(lambda r, n: jnp.where(done, r, n), reset_state, next_state)
    info = {
        "loss": loss,  # () packet-loss rate of this window
        "empty": empty,  # () nobody sent: loss defined as 0
        "granted": granted,  # (N,) allocation after the budget rule
        "actual": state.counts,  # (N,) actual packets this window
        "next_obs": obs,  # (N,) observation of the next window (before any reset)
    }
    return new_state.obs, new_state, (1.0 - loss).astype(jnp.float32), done, info
