"""Random draws the step needs: lost packets (binomial) and markov traffic."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def lost_packets(key: jax.Array, counts: jax.Array, loss_prob: jax.Array) -> jax.Array:
    """Lost packets per user ~ Binomial(counts, loss_prob). counts: (N,) int32."""
    return jax.random.binomial(key, counts.astype(jnp.float32), loss_prob).astype(jnp.int32)


def markov_next(key: jax.Array, counts: jax.Array, cdf: jax.Array) -> jax.Array:
    """Next count per user from the row CDF of the current count.

    cdf: (L+1, L+1). A row that was never visited in the trace (all zero)
    keeps the user where it is (the reference would crash there).
    """
    rows = cdf[counts]  # (N, L+1)
    u = jax.random.uniform(key, counts.shape)  # (N,)
    nxt = jnp.sum(rows <= u[:, None], axis=-1).astype(jnp.int32)  # first index with cdf > u
    nxt = jnp.minimum(nxt, cdf.shape[0] - 1)
    unseen = rows[:, -1] <= 0.0
    return jnp.where(unseen, counts, nxt)
