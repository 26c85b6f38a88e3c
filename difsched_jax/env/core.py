"""Gymnax-style pure functions for one slice (SPEC §1); vmap them over slices.

    reset(key, params, spec) -> (obs, state)
    step(key, state, action, params, spec) -> (obs, state, reward, done, info)

`obs` is the observed packet count per user, (N,) int32. `action` is the
requested allocation r in resource blocks, (N,) float (sanitised: NaN -> 0,
negative or -inf -> 0, above B or +inf -> B; under `spec.allocation == "integer"`
then turned into whole blocks by `channel.whole_blocks`). `reward` = 1 - loss. When an
episode ends the state is reset in the same step and the returned `obs` is the
new episode's first one; `info["next_obs"]` is the true successor of the
step's window. The step is a pipeline: budget -> channel -> losses -> traffic
-> auto-reset; `advance` is the step without the auto-reset (rollouts reset
only in windows where some slice ends its episode).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from difsched_jax.env.binomial import sample_losses
from difsched_jax.env.channel import (
    enforce_budget_words,
    executed_request,
    grid_index,
    success_prob,
)
from difsched_jax.env.prng import split_words, uniform_ints
from difsched_jax.env.sampling import lost_packets
from difsched_jax.env.traffic_models import traffic_model
from difsched_jax.env.types import EnvParams, EnvSpec, EnvState


def loss_to_reward(loss):
    """The reward, 1 - loss: the one definition. The step records it (`Transition.reward`);
    datasets store the loss, and their agent arrays and the NumPy reference call this too.
    Keeps the dtype (float32 in, float32 out) for NumPy and JAX arrays alike."""
    return 1 - loss


def reset(key: jax.Array, params: EnvParams, spec: EnvSpec) -> tuple[jax.Array, EnvState]:
    """Cursors uniform in [0, T-2]; the first state is the entry after the cursor."""
    n = spec.num_users
    _, words = split_words(key, 0, 2 * n + 2)
    words = words.reshape(2, n + 1)
    length = params.actual.shape[0]
    start = uniform_ints(words[:, :n], length - 1)  # (N,) in [0, T-2]
    cursors = ((start + 1) % length).astype(jnp.int32)
    counts = params.actual[cursors]
    obs = traffic_model(spec.traffic).observe(cursors, counts, params)
    channel = uniform_ints(words[:, n], params.sigmoid_k.shape[0])
    state = EnvState(
        cursors=cursors, counts=counts, obs=obs, channel=channel, t=jnp.zeros((), jnp.int32)
    )
    return state.obs, state


def window_loss(
    words: jax.Array,
    counts: jax.Array,
    granted: jax.Array,
    channel: jax.Array,
    params: EnvParams,
    objective: str = "loss",
    window: int = 200,
) -> tuple[jax.Array, jax.Array]:
    """The window's cost under `objective` (the packet-loss rate, or the most packets one
    user lost / L, L = `window`) and whether it was empty (nobody sent; cost 0).

    words: (2, N) uint32 random bits (the fallback path hashes them into a key).
    """
    idx = grid_index(granted, params.budget)  # (N,)
    if params.loss_tables is not None:
        lost = sample_losses(params.loss_tables, channel, idx, counts, words)  # (N,)
    else:
        p = success_prob(idx, params.sigmoid_k[channel], params.sigmoid_s[channel])  # (N,)
        lost = lost_packets(jax.random.key(words[0, 0]), counts, 1.0 - p)
    total = jnp.sum(counts)
    empty = total == 0
    if objective == "worst_user":
        cost = jnp.max(lost) / window
    else:
        cost = jnp.sum(lost) / jnp.maximum(total, 1)
    loss = jnp.where(empty, 0.0, cost).astype(jnp.float32)
    return loss, empty


def draw_words(
    key: jax.Array, spec: EnvSpec, materialize: bool = True
) -> tuple[jax.Array, jax.Array]:
    """One hash pass per window: (reset key, random words). The words are the
    budget order (N), two per loss draw (2N), the next channel (1) and the
    traffic model's (N · WORDS_PER_USER). `materialize`: hash once, not inside
    each consumer's fusion (see `threefry2x32`). Same words either way."""
    n = spec.num_users
    num_words = 3 * n + 1 + n * traffic_model(spec.traffic).WORDS_PER_USER
    reset_keys, words = split_words(key, 1, num_words, materialize)
    return reset_keys[0], words


def finish(
    words: jax.Array, state: EnvState, granted: jax.Array, params: EnvParams, spec: EnvSpec
) -> tuple[EnvState, jax.Array, jax.Array, dict]:
    """After the budget rule: losses, traffic, channel. (next_state, reward, done, info)."""
    n = spec.num_users
    loss_words = words[n : 3 * n].reshape(2, n)
    loss, empty = window_loss(
        loss_words, state.counts, granted, state.channel, params, spec.objective, spec.window
    )
    channel = (words[3 * n] % params.sigmoid_k.shape[0]).astype(jnp.int32)  # bias < 2^-29
    model = traffic_model(spec.traffic)
    cursors, counts, obs = model.advance(words[3 * n + 1 :], state, params)
    t = state.t + 1
    done = t >= spec.episode_len
    next_state = EnvState(cursors=cursors, counts=counts, obs=obs, channel=channel, t=t)
    info = {
        "loss": loss,  # () packet-loss rate of this window
        "empty": empty,  # () nobody sent: loss defined as 0
        "granted": granted,  # (N,) allocation after the budget rule
        "actual": state.counts,  # (N,) actual packets this window
        "next_obs": obs,  # (N,) observation of the next window (before any reset)
    }
    return next_state, loss_to_reward(loss).astype(jnp.float32), done, info


def advance(
    key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams, spec: EnvSpec
) -> tuple[EnvState, jax.Array, jax.Array, dict, jax.Array]:
    """The step without auto-reset: (next_state, reward, done, info, reset_key).

    When `done`, the caller replaces next_state by ``reset(reset_key, ...)``.
    """
    k_reset, words = draw_words(key, spec)
    requested = executed_request(action, params.budget, spec.allocation)  # (N,)
    granted = enforce_budget_words(words[: spec.num_users], requested, params.budget)  # (N,)
    next_state, reward, done, info = finish(words, state, granted, params, spec)
    return next_state, reward, done, info, k_reset


def select_state(done: jax.Array, reset_state: EnvState, next_state: EnvState) -> EnvState:
    """reset_state where done (broadcast over trailing axes), else next_state."""

    def pick(r, n):
        d = jnp.reshape(done, done.shape + (1,) * (n.ndim - done.ndim))
        return jnp.where(d, r, n)

    return jax.tree.map(pick, reset_state, next_state)


def step(
    key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams, spec: EnvSpec
) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict]:
    """One window of one slice (see the module docstring); `key` is used once."""
    next_state, reward, done, info, k_reset = advance(key, state, action, params, spec)
    _, reset_state = reset(k_reset, params, spec)
    new_state = select_state(done, reset_state, next_state)
    return new_state.obs, new_state, reward, done, info
