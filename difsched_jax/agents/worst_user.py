"""The `worst_user` objective's yardstick: the expected worst-user loss of a whole-block
allocation, exactly, and the best allocation found for it.

The objective of a window is max_i X_i / L, X_i the packets user i loses. Given the
window's channel pair c (drawn uniformly from the P pairs, independently of the
traffic), the users' losses are independent binomials X_i ~ Bin(u_i, q_c(r_i)), q = 1 − p
the per-packet loss probability at r_i blocks. So

    E[max_i X_i] = mean_c Σ_{k=0}^{L-1} (1 − Π_i P(X_i ≤ k | c)),

exact given the counts u. Products are sums of log-CDFs (floored, so each is finite),
and a move of blocks between two users changes their two terms only.

`best_allocation` (no knapsack decides here) starts twice: from the bisection optimum
on expected per-user losses (the smallest level λ with Σ_i min{r : u_i q̄(r) ≤ λ} ≤ B,
q̄ the mean over pairs; the blocks left over each to the user it helps most) and from
equal share. From each it moves d = 1, 2, 4, ... blocks from one user to another while
the exact expected worst-user loss falls (the success curve is a sigmoid, so single
blocks can stall where a larger move helps; each d tries the three users that gain
most from d more blocks against the three that lose least from giving d, the nine
pairs exactly), and keeps the better end. A local optimum: "best found", checked
against brute force on small slices (tests/test_worst_user.py). Cost per move:
O(N · log B · P · L).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

Q_MAX = 1.0 - 1e-9  # a loss probability of 1 would make log P(X ≤ k) −inf
LOG_FLOOR = -1e4  # log P(X ≤ k) below this is 0 for every product it enters


@struct.dataclass
class WorstUserParams:
    """loss_prob (P, B + 1): per-packet loss probability of pair c at r = 0..B whole
    blocks (the env's grid: index min(r, B − 1)); log_fact (L + 1,): log k!."""

    loss_prob: jax.Array
    log_fact: jax.Array


def worst_user_params(budget: int, sigmoid_k, sigmoid_s, window: int) -> WorstUserParams:
    k = np.asarray(sigmoid_k, np.float64)[:, None]
    s = np.asarray(sigmoid_s, np.float64)[:, None]
    idx = np.minimum(np.arange(budget + 1), budget - 1)[None, :]
    success = 1.0 / (1.0 + np.exp(-k * (idx - s)))  # the env's curve (channel.success_prob)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, window + 1)))])
    return WorstUserParams(
        loss_prob=jnp.asarray(np.minimum(1.0 - success, Q_MAX), jnp.float32),
        log_fact=jnp.asarray(log_fact, jnp.float32),
    )


def log_cdf(params: WorstUserParams, u: jax.Array, r: jax.Array) -> jax.Array:
    """log P(X_i ≤ k | c) for k = 0..L − 1: (P, N, L). u, r: (N,) ints."""
    lf = params.log_fact
    window = lf.shape[0] - 1
    q = params.loss_prob[:, r]  # (P, N)
    k = jnp.arange(window + 1)  # (L + 1,)
    u_, k_ = u[None, :, None], k[None, None, :]
    safe = jnp.minimum(k_, u_)
    log_pmf = (lf[u_] - lf[safe] - lf[u_ - safe] + safe * jnp.log(q)[..., None]
               + (u_ - safe) * jnp.log1p(-q)[..., None])  # fmt: skip
    pmf = jnp.where(k_ <= u_, jnp.exp(log_pmf), 0.0)
    cdf = jnp.cumsum(pmf[..., :window], axis=-1)  # cumlogsumexp is ~50x slower on CPU
    # floored: a term that underflows stays finite, so removing it again is exact
    return jnp.maximum(jnp.log(cdf), LOG_FLOOR)


def _value(log_prod: jax.Array, window: int) -> jax.Array:
    """E[max_i X_i] / L from Σ_i log P(X_i ≤ k | c), (..., P, L)."""
    return jnp.sum(1.0 - jnp.exp(log_prod), axis=-1).mean(axis=-1) / window


def expected_worst(params: WorstUserParams, u: jax.Array, r: jax.Array) -> jax.Array:
    """Exact E[max_i X_i] / L of whole-block allocation r (N,) for counts u (N,)."""
    window = params.log_fact.shape[0] - 1
    return _value(log_cdf(params, u, r).sum(axis=1), window)


def _start(params: WorstUserParams, u: jax.Array, budget: int) -> jax.Array:
    """Bisection on the level λ of expected per-user lost packets u_i q̄(r_i)."""
    q_mean = params.loss_prob.mean(axis=0)  # (B + 1,) non-increasing in r

    def blocks(level):  # (N,) fewest blocks with u_i q̄(r) ≤ level
        above = (u[:, None] * q_mean[None, :] > level).astype(jnp.int32)
        return jnp.sum(jnp.cumprod(above, axis=1), axis=1)  # the first r below the level

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        feasible = jnp.sum(blocks(mid)) <= budget
        return jnp.where(feasible, lo, mid), jnp.where(feasible, mid, hi)

    hi0 = jnp.maximum(jnp.max(u).astype(jnp.float32), 1.0)
    _, hi = jax.lax.fori_loop(0, 40, body, (jnp.float32(0.0), hi0))
    return jnp.minimum(blocks(hi), budget)


def _improve(params: WorstUserParams, u: jax.Array, r: jax.Array, budget: int, max_moves: int):
    window = params.log_fact.shape[0] - 1
    n = u.shape[0]

    def spend(state):  # one leftover block to the user it helps most
        r, _ = state
        cur = log_cdf(params, u, r)
        up = log_cdf(params, u, jnp.minimum(r + 1, budget))
        total = cur.sum(axis=1)  # (P, L)
        after = total[None] - jnp.moveaxis(cur, 1, 0) + jnp.moveaxis(up, 1, 0)  # (N, P, L)
        best = jnp.argmin(_value(after, window))
        return r.at[best].add(1), jnp.int32(0)

    r, _ = jax.lax.while_loop(lambda s: jnp.sum(s[0]) < budget, spend, (r, jnp.int32(0)))

    sizes = [2**e for e in range(max(1, budget).bit_length()) if 2**e <= budget]
    top = min(3, n)

    def move(state):
        r, _, moves = state
        cur = log_cdf(params, u, r)  # (P, N, L)
        total = cur.sum(axis=1)  # (P, L)
        values, pairs = [], []
        for d in sizes:  # d blocks from user j to user i (the sigmoid is not concave)
            take = jnp.moveaxis(log_cdf(params, u, jnp.minimum(r + d, budget)) - cur, 1, 0)
            give = jnp.moveaxis(log_cdf(params, u, jnp.maximum(r - d, 0)) - cur, 1, 0)
            # the `top` best takers and givers alone, then their pairs exactly: O(N) not O(N²)
            alone_take = _value(total[None] + take, window)  # (N,)
            alone_give = jnp.where(r >= d, _value(total[None] + give, window), jnp.inf)
            takers = jnp.argsort(alone_take)[:top]
            givers = jnp.argsort(alone_give)[:top]
            i, j = jnp.repeat(takers, top), jnp.tile(givers, top)  # (top²,)
            after = total[None] + take[i] + give[j]  # (top², P, L)
            ok = (i != j) & (r[j] >= d)
            values.append(jnp.where(ok, _value(after, window), jnp.inf))
            pairs.append(jnp.stack([i, j, jnp.full_like(i, d)], axis=1))
        values, pairs = jnp.concatenate(values), jnp.concatenate(pairs)
        best = jnp.argmin(values)
        better = values[best] < _value(total, window) - 1e-7
        i, j, d = pairs[best]
        r = jnp.where(better, r.at[i].add(d).at[j].add(-d), r)
        return r, better, moves + 1

    def go_on(state):
        _, improved, moves = state
        return improved & (moves < max_moves)

    r, _, _ = jax.lax.while_loop(go_on, move, (r, jnp.bool_(True), jnp.int32(0)))
    return r


@partial(jax.jit, static_argnames=("budget", "max_moves"))
def best_allocation(params: WorstUserParams, u: jax.Array, budget: int, max_moves: int = 64):
    """The best whole-block allocation found for counts u (N,): improving block moves (at
    most `max_moves`) from two starts, the bisection one (leftover blocks spent) and
    equal share; the better of the two. (N,) int32, Σ = B."""
    u = jnp.asarray(u, jnp.int32)
    n = u.shape[0]
    equal = jnp.full((n,), budget // n).at[: budget % n].add(1)  # a second start
    found = [_improve(params, u, start, budget, max_moves)
             for start in (_start(params, u, budget), equal)]  # fmt: skip
    values = jnp.stack([expected_worst(params, u, r) for r in found])
    return jnp.where(values[0] <= values[1], found[0], found[1]).astype(jnp.int32)


@partial(jax.jit, static_argnames=("budget",))
def water_filling(params: WorstUserParams, u: jax.Array, budget: int) -> jax.Array:
    """The heuristic a networking researcher would try first: equalise the expected lost
    packets u_i q̄(r_i) (the bisection start), then each leftover block to the user with
    the most expected lost packets. No exact value is computed. (N,) int32, Σ = B."""
    u = jnp.asarray(u, jnp.int32)
    r = _start(params, u, budget)
    q_mean = params.loss_prob.mean(axis=0)

    def one(_, r):
        lost = jnp.where(r < budget, u * q_mean[r], -1.0)
        return jnp.where(jnp.sum(r) < budget, r.at[jnp.argmax(lost)].add(1), r)

    return jax.lax.fori_loop(0, u.shape[0], one, r).astype(jnp.int32)


def _observed_counts(params: WorstUserParams, obs: jax.Array) -> jax.Array:
    return jnp.clip(obs, 0, params.log_fact.shape[0] - 1).astype(jnp.int32)


def _budget(params: WorstUserParams) -> int:
    return params.loss_prob.shape[1] - 1  # static: the table's shape


def best_policy(params: WorstUserParams, key, obs):
    """The yardstick as a policy act(params, key, obs): `best_allocation` on the observed
    counts (the predicted ones, or the actual ones with perfect observation)."""
    del key
    counts = _observed_counts(params, obs)
    return best_allocation(params, counts, _budget(params)).astype(jnp.float32)


def water_filling_policy(params: WorstUserParams, key, obs):
    """`water_filling` on the observed counts, as a policy act(params, key, obs)."""
    del key
    counts = _observed_counts(params, obs)
    return water_filling(params, counts, _budget(params)).astype(jnp.float32)
