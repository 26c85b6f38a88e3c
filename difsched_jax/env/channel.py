"""Channel model, action sanitising and the budget rule (SPEC §1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sanitize_allocation(r: jax.Array, budget: jax.Array) -> jax.Array:
    """Make any requested allocation well defined: NaN -> 0, -inf/negative -> 0,
    +inf or more than B -> B. Returns float32 of the same shape."""
    budget = jnp.asarray(budget, jnp.float32)
    r = jnp.asarray(r, jnp.float32)
    r = jnp.nan_to_num(r, nan=0.0, posinf=budget, neginf=0.0)
    return jnp.clip(r, 0.0, budget)


def grid_index(r: jax.Array, budget: jax.Array) -> jax.Array:
    """The reference's grid mapping: index clip(ceil(r), 0, B-1) into arange(B).

    (NumPy ``searchsorted(arange(B), r, 'left')``: a fractional allocation
    rounds *up*, anything >= B-1 uses index B-1.)
    """
    return jnp.clip(jnp.ceil(r), 0, jnp.asarray(budget) - 1).astype(jnp.int32)


def success_prob(index: jax.Array, k: jax.Array, s: jax.Array) -> jax.Array:
    """p(r) = 1 / (1 + exp(-k (r - s))) on the integer grid."""
    return jax.nn.sigmoid(k * (index.astype(jnp.float32) - s))


def mean_success_curve(budget: int, sigmoid_k, sigmoid_s) -> jax.Array:
    """(B,) success probability of each grid index averaged over the channel pairs."""
    idx = jnp.arange(budget)
    k = jnp.asarray(sigmoid_k, jnp.float32)[:, None]
    s = jnp.asarray(sigmoid_s, jnp.float32)[:, None]
    return success_prob(idx[None, :], k, s).mean(axis=0)


def enforce_budget(key: jax.Array, r: jax.Array, budget: jax.Array) -> jax.Array:
    """Random-order budget rule: users visited in a uniformly random order each
    get min(r_i, remaining); once nothing remains the rest get 0.

    r: (N,) non-negative. Equals r whenever sum(r) <= B.
    """
    order = jax.random.permutation(key, r.shape[0])  # (N,)
    r_ordered = r[order]
    before = jnp.cumsum(r_ordered) - r_ordered  # (N,) granted to earlier users
    remaining = jnp.maximum(jnp.asarray(budget, r.dtype) - before, 0.0)
    granted_ordered = jnp.minimum(r_ordered, remaining)
    return jnp.zeros_like(r).at[order].set(granted_ordered)
