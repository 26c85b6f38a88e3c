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


def whole_blocks(r: jax.Array) -> jax.Array:
    """The `integer` allocation rule: a real allocation r (N,) >= 0 becomes whole resource
    blocks. Each user keeps floor(r_i); the blocks left of the rounded total,
    floor(sum r + 1/2) - sum floor(r), go one each to the largest fractional parts
    (ties to the lower index; a user with no fractional part gets none). So the total
    is never above the request's rounded total, an integer request is kept as it is,
    and a request within B stays within B (the budget rule then cuts what is over B).

    By N^2 comparisons (no sort; see `enforce_budget_words`). float32 (N,) in and out.
    """
    r = jnp.asarray(r, jnp.float32)
    n = r.shape[-1]
    base = jnp.floor(r)
    frac = r - base
    left = jnp.floor(jnp.sum(r) + 0.5) - jnp.sum(base)  # () blocks to hand out
    i = jnp.arange(n)
    ahead = jnp.zeros(r.shape, jnp.int32)  # (N,) users whose fraction ranks before i's
    for j in range(n):
        ahead = ahead + ((frac[j] > frac) | ((frac[j] == frac) & (j < i))).astype(jnp.int32)
    extra = (ahead < left) & (frac > 0)
    return base + extra.astype(jnp.float32)


def executed_request(r: jax.Array, budget: jax.Array, allocation: str) -> jax.Array:
    """What the scheduler asks the budget rule for: `sanitize_allocation`, then under
    `integer` semantics `whole_blocks`. `reference` keeps the real request (the channel
    then rounds every fraction up: 12.0001 blocks buy the success of 13)."""
    r = sanitize_allocation(r, budget)
    return whole_blocks(r) if allocation == "integer" else r


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
    return enforce_budget_words(jax.random.bits(key, r.shape, jnp.uint32), r, budget)


def over_budget(r: jax.Array, budget: jax.Array) -> jax.Array:
    """() bool: does the request r (N,) exceed the budget (the rule applies)?"""
    return jnp.sum(r) > jnp.asarray(budget, r.dtype)


def enforce_budget_words(
    words: jax.Array, r: jax.Array, budget: jax.Array, over: jax.Array | None = None
) -> jax.Array:
    """The budget rule with the visiting order given by random words: users are
    visited by increasing word (ties by index), a uniformly random order.

    By N^2 comparisons instead of a sort/permutation: on CPU a batched sort of
    many short rows costs more than that for the N of interest (<= ~100).
    words: (N,) uint32; r: (N,) non-negative float32; over: `over_budget(r, budget)`.
    """
    budget = jnp.asarray(budget, r.dtype)
    n = r.shape[0]
    i = jnp.arange(n)
    if n <= 32:
        # Unrolled over j (sums in index order): one elementwise kernel.
        before = jnp.zeros_like(r)  # (N,) requested by users visited earlier
        for j in range(n):
            earlier = (words[j] < words) | ((words[j] == words) & (j < i))  # j before each i
            before = before + jnp.where(earlier, r[j], 0.0)
    else:
        earlier = (words[None, :] < words[:, None]) | (
            (words[None, :] == words[:, None]) & (i[None, :] < i[:, None])
        )  # (N, N) [i, j]: user j is visited before user i
        before = earlier.astype(r.dtype) @ r
    granted = jnp.minimum(r, jnp.maximum(budget - before, 0.0))
    return jnp.where(over_budget(r, budget) if over is None else over, granted, r)


def enforce_budget_batch(
    words: jax.Array, r: jax.Array, budget: jax.Array, over: jax.Array
) -> jax.Array:
    """`enforce_budget_words` over slices, (S, N) -> (S, N), skipped when no slice
    is over budget. words: (S, >= N), the first N per slice give the order
    (sliced inside the branch: a slice outside got its own copy of the hash);
    over: (S,) from `over_budget`, as the per-slice rule uses."""
    n = r.shape[-1]
    rule = jax.vmap(enforce_budget_words, in_axes=(0, 0, None, 0))
    return jax.lax.cond(jnp.any(over), lambda: rule(words[:, :n], r, budget, over), lambda: r)
