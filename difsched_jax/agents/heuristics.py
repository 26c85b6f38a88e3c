"""Simple policies and the exact myopic oracle, all ``act(policy_params, key, obs) -> r``
for one slice (obs: (N,) int32 observed counts; r: (N,) float32 resource blocks).

policy_params of equal/proportional/random is a `HeuristicParams` (budget);
of the oracle an `OracleParams` (the mean success curve, whose length fixes B).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from difsched_jax.env.channel import mean_success_curve

# Shifts of the oracle's inner loop unrolled per iteration: about twice the speed of
# a plain loop on CPU (measured in benchmarks/oracle.py), little more compile time.
_UNROLL = 4


@struct.dataclass
class HeuristicParams:
    budget: jax.Array  # () resource blocks B


def heuristic_params(budget: int) -> HeuristicParams:
    return HeuristicParams(budget=jnp.asarray(budget, jnp.float32))


def equal_share(params: HeuristicParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """Every user gets B / N."""
    del key
    n = obs.shape[-1]
    return jnp.full(obs.shape, params.budget / n, jnp.float32)


def proportional(params: HeuristicParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """r_i = floor(B u_i / sum u) (the reference's floor), in exact integer arithmetic.

    When nobody is observed to send (sum u = 0, where the reference divides by
    zero) every user gets floor(B / N).
    """
    del key
    budget = params.budget.astype(jnp.int32)
    u = obs.astype(jnp.int32)  # (N,)
    total = jnp.sum(u)
    share = (budget * u) // jnp.maximum(total, 1)  # (N,)
    fallback = jnp.full_like(u, budget // u.shape[-1])
    return jnp.where(total > 0, share, fallback).astype(jnp.float32)


def random_policy(params: HeuristicParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """A uniform random action a in [-1, 1]^N, i.e. r_i ~ U(0, B) per user (as a
    Gym action-space sample); the environment's budget rule then cuts the excess."""
    return jax.random.uniform(key, obs.shape, jnp.float32, 0.0, 1.0) * params.budget


# --- the oracle: exact myopic optimum by dynamic programming -----------------


@struct.dataclass
class OracleParams:
    """gain[r] = mean success probability with r blocks, r = 0..B (so B = len - 1)."""

    gain: jax.Array  # (B+1,) float32: p_bar(clip(r, 0, B-1)), the env's grid mapping


def oracle_params(budget: int, sigmoid_k, sigmoid_s) -> OracleParams:
    """The success curve averaged over the channel pairs, on the env's grid."""
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ValueError(f"oracle budget must be a positive integer, got {budget!r}")
    curve = mean_success_curve(budget, sigmoid_k, sigmoid_s)  # (B,) index 0..B-1
    return OracleParams(gain=jnp.concatenate([curve, curve[-1:]]).astype(jnp.float32))


def _dp_batch(gain: jax.Array, counts: jax.Array) -> jax.Array:
    """Optimal integer allocations of a batch of slices.

    gain: (B+1,) shared by all slices, or (S, B+1) per slice; counts: (S, N)
    observed counts. Returns (S, N) int32 r maximising sum_i u_i gain[r_i]
    subject to sum_i r_i <= B.

    V_i(b) = best value of users < i within b blocks (non-decreasing in b).
    Budget-major layout (B+1, S) keeps the slices contiguous: each shift r is one
    vectorised max over all slices (4-8x faster than slice-major on CPU).
    """
    num_slices, num_users = counts.shape
    budget = gain.shape[-1] - 1
    # (B+1, 1) shared (a scalar per shift: ~30 % faster) or (B+1, S) per slice
    g = (gain[:, None] if gain.ndim == 1 else gain.T).astype(jnp.float32)
    u = counts.T.astype(jnp.float32)  # (N, S)
    neg = jnp.full((budget, num_slices), -jnp.inf, jnp.float32)

    def add_user(v, u_i):  # v: (B+1, S) -> V_{i+1}; also keep V_i for the backtrack
        v_pad = jnp.concatenate([neg, v], axis=0)  # (2B+1, S): v_pad[B + j] = v[j]

        def shift(r, best):  # candidates giving r blocks to user i: V_i(b - r) + u_i g[r]
            shifted = jax.lax.dynamic_slice_in_dim(v_pad, budget - r, budget + 1, 0)
            return jnp.maximum(best, shifted + u_i * g[r])

        init = jnp.full_like(v, -jnp.inf)
        return jax.lax.fori_loop(0, budget + 1, shift, init, unroll=_UNROLL), v

    v0 = jnp.zeros((budget + 1, num_slices), jnp.float32)
    _, v_before = jax.lax.scan(add_user, v0, u)  # (N, B+1, S): V_i for each user i

    r_grid = jnp.arange(budget + 1)[:, None]  # (B+1, 1)
    cols = jnp.arange(num_slices)[None, :]  # (1, S)

    def take_back(left, inputs):  # left: (S,) blocks still free for users <= i
        v_i, u_i = inputs  # (B+1, S), (S,)
        rest = left[None, :] - r_grid  # (B+1, S) blocks left to users < i if i gets r
        # flat 1-D gather: faster on CPU than take_along_axis
        prev = v_i.reshape(-1)[jnp.maximum(rest, 0) * num_slices + cols]
        # Same float expression as the forward pass, so the argmax reproduces V_{i+1}.
        cand = jnp.where(rest >= 0, prev + u_i * g, -jnp.inf)
        r_i = jnp.argmax(cand, axis=0).astype(jnp.int32)  # first maximum: fewest blocks
        return left - r_i, r_i

    left0 = jnp.full((num_slices,), budget, jnp.int32)
    _, r = jax.lax.scan(take_back, left0, (v_before, u), reverse=True)  # (N, S)
    return r.T


@jax.custom_batching.custom_vmap
def oracle_allocation(gain: jax.Array, counts: jax.Array) -> jax.Array:
    """One slice: gain (B+1,), counts (N,) -> optimal integer r (N,) int32.

    Under vmap (the rollout's slice axis) it runs `_dp_batch` on the whole batch
    instead of a slice-major loop.
    """
    return _dp_batch(gain, counts[None, :])[0]


@oracle_allocation.def_vmap
def _oracle_allocation_vmap(axis_size, in_batched, gain, counts):
    _, counts_batched = in_batched  # gain stays (B+1,) when shared: see _dp_batch
    if not counts_batched:
        counts = jnp.broadcast_to(counts, (axis_size,) + counts.shape)
    return _dp_batch(gain, counts), True


@jax.jit
def oracle_allocate_batch(gain: jax.Array, counts: jax.Array) -> jax.Array:
    """Batched entry point: gain (B+1,), counts (S, N) -> r (S, N) int32."""
    return jax.vmap(oracle_allocation, in_axes=(None, 0))(gain, counts)


def allocation_value(gain, counts, r):
    """sum_i u_i gain[r_i] (expected delivered packets) of allocations r (..., N)."""
    return jnp.sum(counts * jnp.take(gain, r), axis=-1)


def oracle(params: OracleParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """Exact myopic optimum for the observation: maximise sum_i u_i p_bar(r_i) over
    integer r_i in 0..B with sum r_i <= B (so the budget rule never cuts it).

    When nobody is observed to send every allocation is optimal; then every user
    gets floor(B / N) (the DP alone would give all zeros).
    """
    del key
    budget = params.gain.shape[-1] - 1
    r = oracle_allocation(params.gain, obs)  # (N,) int32
    fallback = jnp.full_like(r, budget // obs.shape[-1])
    return jnp.where(jnp.sum(obs) > 0, r, fallback).astype(jnp.float32)


def oracle_allocation_numpy(gain, counts):
    """Plain NumPy reference of the same DP (a loop over users, vectorised over
    the budget) for tests and benchmarks: gain (B+1,), counts (N,) -> r (N,) int.
    float64; ties to the fewest blocks, as the JAX version."""
    gain = np.asarray(gain, np.float64)
    counts = np.asarray(counts, np.float64)
    budget = gain.shape[0] - 1
    b = np.arange(budget + 1)
    rest = b[:, None] - b[None, :]  # (B+1, B+1) [b, r]: blocks left to earlier users
    feasible = rest >= 0
    value = np.zeros(budget + 1)  # V_0(b)
    choice = np.empty((counts.shape[0], budget + 1), np.int64)  # best r_i per budget b
    for i, u in enumerate(counts):
        cand = np.where(feasible, value[np.maximum(rest, 0)] + u * gain[None, :], -np.inf)
        choice[i] = np.argmax(cand, axis=1)
        value = cand[b, choice[i]]
    r = np.zeros(counts.shape[0], np.int64)
    left = budget
    for i in range(counts.shape[0] - 1, -1, -1):
        r[i] = choice[i, left]
        left -= r[i]
    return r
