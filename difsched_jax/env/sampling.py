"""Random draws the step needs besides the loss tables: markov traffic, and the
plain `jax.random.binomial` path used when a slice has no loss tables."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from difsched_jax.env.binomial import count_below


def lost_packets(key: jax.Array, counts: jax.Array, loss_prob: jax.Array) -> jax.Array:
    """Lost packets per user ~ Binomial(counts, loss_prob). counts: (N,) int32."""
    return jax.random.binomial(key, counts.astype(jnp.float32), loss_prob).astype(jnp.int32)


def words_to_uniform(words: jax.Array) -> jax.Array:
    """uint32 words -> float32 uniform in [0, 1) (top 24 bits, exact in float32)."""
    return (words >> 8).astype(jnp.float32) * jnp.float32(2.0**-24)


def markov_next_words(words: jax.Array, counts: jax.Array, cdf: jax.Array) -> jax.Array:
    """Next count per user by inverting the row CDF of its current count.

    words: (N,) uint32; counts: (N,) int32; cdf: (L+1, L+1) float32 row CDFs.
    A row that was never visited in the trace (all zero) keeps the user where
    it is (the reference would crash there). Binary search: 8 reads per user.
    """
    size = cdf.shape[0]
    u = words_to_uniform(words)  # (N,)
    nxt = count_below(cdf.reshape(-1), counts * size, size, u)  # first index with cdf > u
    nxt = jnp.minimum(nxt, size - 1).astype(jnp.int32)
    unseen = cdf.at[counts, size - 1].get(mode="clip") <= 0.0
    return jnp.where(unseen, counts, nxt)
