"""Transition batches and a fixed-capacity replay buffer held in device arrays.

Everything is a pytree and pure: add and sample run inside jit (`lax.scan` of
updates draws its batches itself). Agent-facing units (SPEC §1): obs and next_obs
are normalised states 2u/L − 1, action in [−1, 1]^N, reward = 1 − loss.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

from difsched_jax.env.build import allocation_to_action, normalize_obs


@struct.dataclass
class Batch:
    obs: jax.Array  # (B, S) float32 state
    action: jax.Array  # (B, A) float32 in [−1, 1]
    reward: jax.Array  # (B,) float32, 1 − loss
    next_obs: jax.Array  # (B, S) float32 state of the next window
    done: jax.Array  # (B,) float32 1 at an episode end (a time limit here)


def batch_from_env(obs_counts, r, reward, next_obs_counts, done, window: int, budget) -> Batch:
    """Env units (counts, resource blocks) → agent units, with the env's reward (e.g.
    `Transition.reward`); leading axes are flattened."""
    n = obs_counts.shape[-1]
    return Batch(
        obs=normalize_obs(obs_counts, window).reshape(-1, n),
        action=allocation_to_action(r, budget).reshape(-1, r.shape[-1]),
        reward=jnp.asarray(reward, jnp.float32).reshape(-1),
        next_obs=normalize_obs(next_obs_counts, window).reshape(-1, n),
        done=jnp.asarray(done, jnp.float32).reshape(-1),
    )


@struct.dataclass
class ReplayBuffer:
    data: Batch  # leaves with leading axis C (capacity)
    size: jax.Array  # () int32 rows filled
    ptr: jax.Array  # () int32 next row to write (ring)

    @property
    def capacity(self) -> int:
        return int(self.data.reward.shape[0])


def replay_init(capacity: int, state_dim: int, action_dim: int) -> ReplayBuffer:
    z = jnp.zeros
    data = Batch(
        obs=z((capacity, state_dim)),
        action=z((capacity, action_dim)),
        reward=z((capacity,)),
        next_obs=z((capacity, state_dim)),
        done=z((capacity,)),
    )
    return ReplayBuffer(data=data, size=jnp.int32(0), ptr=jnp.int32(0))


def replay_from_batch(batch: Batch, capacity: int | None = None) -> ReplayBuffer:
    """A buffer holding `batch` (e.g. the whole offline dataset); room for `capacity` rows."""
    n = batch.reward.shape[0]
    capacity = n if capacity is None else capacity
    buf = replay_init(capacity, batch.obs.shape[-1], batch.action.shape[-1])
    return replay_add(buf, batch)


@jax.jit
def replay_add(buf: ReplayBuffer, batch: Batch) -> ReplayBuffer:
    """Write the rows of `batch` at the ring pointer, overwriting the oldest when full."""
    n = batch.reward.shape[0]
    cap = buf.capacity
    if n > cap:  # only the newest `cap` rows survive
        batch = jax.tree.map(lambda x: x[n - cap :], batch)
        n = cap
    idx = (buf.ptr + jnp.arange(n)) % cap
    data = jax.tree.map(
        lambda d, x: d.at[idx].set(jnp.asarray(x, d.dtype).reshape((n,) + d.shape[1:])),
        buf.data,
        batch,
    )
    return ReplayBuffer(
        data=data,
        size=jnp.minimum(buf.size + n, cap).astype(jnp.int32),
        ptr=((buf.ptr + n) % cap).astype(jnp.int32),
    )


@partial(jax.jit, static_argnums=2)
def replay_sample(buf: ReplayBuffer, key, batch_size: int) -> Batch:
    """`batch_size` rows uniformly (with replacement) from the filled part."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buf.size, 1))
    return jax.tree.map(lambda d: d[idx], buf.data)


@partial(jax.jit, static_argnums=3)
def replay_sample_mixed(
    offline: ReplayBuffer, online: ReplayBuffer, key, batch_size: int, offline_share
) -> Batch:
    """A hybrid batch: round(share·B) rows from `offline`, the rest from `online`
    (all from `offline` while `online` is empty). `offline_share` may be traced."""
    k_off, k_on = jax.random.split(key)
    off = replay_sample(offline, k_off, batch_size)
    on = replay_sample(online, k_on, batch_size)
    n_off = jnp.round(jnp.asarray(offline_share, jnp.float32) * batch_size).astype(jnp.int32)
    n_off = jnp.where(online.size > 0, n_off, batch_size)
    use_off = jnp.arange(batch_size) < n_off  # (B,)
    return jax.tree.map(
        lambda x, y: jnp.where(use_off.reshape((-1,) + (1,) * (x.ndim - 1)), x, y), off, on
    )
