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


def _running_best(gain: jax.Array) -> tuple[jax.Array, jax.Array]:
    """g_hat = running max of gain over r, and for each r the fewest blocks r' <= r
    reaching it. With sum r <= B a user never needs more than that, so maximising
    with g_hat (non-decreasing) and mapping r -> first[r] solves the problem for any
    gain. The sigmoid curve only changes where it saturates in float32."""
    axis = gain.ndim - 1
    g_hat = jax.lax.cummax(gain, axis=axis)  # (..., B+1)
    before = jnp.concatenate([jnp.full_like(g_hat[..., :1], -jnp.inf), g_hat[..., :-1]], axis)
    idx = jnp.broadcast_to(jnp.arange(gain.shape[-1]), gain.shape)
    first = jax.lax.cummax(jnp.where(gain > before, idx, 0), axis=axis)  # (..., B+1)
    return g_hat, first


def _add_user(v: jax.Array, u_i: jax.Array, g: jax.Array, limit: int) -> jax.Array:
    """V_{i+1}(b) = max over r <= min(b, limit) of V_i(b - r) + u_i g[r].

    v: (B+1, S) V_i; u_i: (S,); g: (B+1, 1) shared or (B+1, S). Budget-major
    layout keeps the slices contiguous: each shift r is one vectorised max over
    all slices (4-8x faster than slice-major on CPU)."""
    budget = v.shape[0] - 1
    v_pad = jnp.concatenate([jnp.full((limit,) + v.shape[1:], -jnp.inf, v.dtype), v])

    def shift(r, best):  # candidates giving r blocks to this user
        shifted = jax.lax.dynamic_slice_in_dim(v_pad, limit - r, budget + 1, 0)  # V_i(b - r)
        return jnp.maximum(best, shifted + u_i * g[r])

    # (unrolling measured no faster with the short loops of `_dp_batch`, slower to compile)
    return jax.lax.fori_loop(0, limit + 1, shift, jnp.full_like(v, -jnp.inf))


def _best_share(v_i, u_i, g, left, limit: int) -> jax.Array:
    """Backtrack one user: argmax over r <= min(left, limit) of V_i(left - r) + u_i g[r]
    (the forward pass's float expression, so it reproduces V_{i+1}(left)). (S,) int32."""
    num_slices = v_i.shape[1]
    rest = left[None, :] - jnp.arange(limit + 1)[:, None]  # (limit+1, S) left to users < i
    cols = jnp.arange(num_slices)[None, :]
    prev = v_i.reshape(-1)[jnp.maximum(rest, 0) * num_slices + cols]  # flat gather: fast on CPU
    cand = jnp.where(rest >= 0, prev + u_i * g[: limit + 1], -jnp.inf)
    return jnp.argmax(cand, axis=0).astype(jnp.int32)  # first maximum: fewest blocks


def _dp_batch(gain: jax.Array, counts: jax.Array) -> jax.Array:
    """Optimal integer allocations of a batch of slices.

    gain: (B+1,) shared by all slices, or (S, B+1) per slice; counts: (S, N)
    observed counts. Returns (S, N) int32 r maximising sum_i u_i gain[r_i]
    subject to sum_i r_i <= B.

    DP over users: V_i(b) = best value of the first i users within b blocks.
    Users go by decreasing count: with a non-decreasing gain some optimum gives
    them non-increasing blocks (swapping two users' blocks otherwise gains), so the
    k-th user (k = 1, 2, ...) needs r <= B // k: about B ln N shifts instead of N B
    (7x fewer for N = 20, B = 200). Python loops over users: N is small and static.
    """
    num_slices, num_users = counts.shape
    budget = gain.shape[-1] - 1
    g_hat, first = _running_best(gain.astype(jnp.float32))
    g = g_hat[:, None] if gain.ndim == 1 else g_hat.T  # (B+1, 1) shared: a scalar per shift
    order = jnp.argsort(-counts, axis=1, stable=True)  # (S, N) largest count first
    u = jnp.take_along_axis(counts, order, axis=1).T.astype(jnp.float32)  # (N, S)
    limits = [budget // (k + 1) for k in range(num_users)]

    # values[i] = V_i, (B+1, S). V_1 is a running max (no shifts); V_N is never used
    # (the backtrack starts at b = B).
    values = [jnp.zeros((budget + 1, num_slices), jnp.float32)]
    for i in range(num_users - 1):
        if i == 0:
            values.append(jax.lax.cummax(u[0] * g, axis=0))
        else:
            values.append(_add_user(values[i], u[i], g, limits[i]))

    left = jnp.full((num_slices,), budget, jnp.int32)
    shares = [None] * num_users
    for i in reversed(range(num_users)):
        shares[i] = _best_share(values[i], u[i], g, left, limits[i])
        left = left - shares[i]
    r_sorted = jnp.stack(shares, axis=1)  # (S, N) in count order
    r = jnp.take_along_axis(r_sorted, jnp.argsort(order, axis=1), axis=1)
    return first[r] if gain.ndim == 1 else jnp.take_along_axis(first, r, axis=1)


def _chunk_size() -> int:
    # CPU: 128 slices per DP pass keep its (B+1, chunk) tables in cache (1.5-1.8x
    # faster than one pass at S >= 1024, measured); accelerators want big batches.
    return 128 if jax.default_backend() == "cpu" else 8192


def _dp_chunked(gain: jax.Array, counts: jax.Array) -> jax.Array:
    """`_dp_batch` over chunks of slices (padded with empty slices), one after another."""
    num_slices, chunk = counts.shape[0], _chunk_size()
    if num_slices <= chunk:
        return _dp_batch(gain, counts)
    num_chunks = -(-num_slices // chunk)
    pad = ((0, num_chunks * chunk - num_slices), (0, 0))

    def split(x):  # (S, ...) -> (chunks, chunk, ...)
        return jnp.pad(x, pad).reshape(num_chunks, chunk, -1)

    if gain.ndim == 1:
        out = jax.lax.map(lambda c: _dp_batch(gain, c), split(counts))
    else:
        out = jax.lax.map(lambda gc: _dp_batch(*gc), (split(gain), split(counts)))
    return out.reshape(num_chunks * chunk, -1)[:num_slices]


@jax.custom_batching.custom_vmap
def oracle_allocation(gain: jax.Array, counts: jax.Array) -> jax.Array:
    """One slice: gain (B+1,), counts (N,) -> optimal integer r (N,) int32.

    Under vmap (the rollout's slice axis) it runs `_dp_batch` on the whole batch
    (in chunks) instead of a slice-major loop.
    """
    return _dp_batch(gain, counts[None, :])[0]


@oracle_allocation.def_vmap
def _oracle_allocation_vmap(axis_size, in_batched, gain, counts):
    _, counts_batched = in_batched  # gain stays (B+1,) when shared: see _dp_batch
    if not counts_batched:
        counts = jnp.broadcast_to(counts, (axis_size,) + counts.shape)
    return _dp_chunked(gain, counts), True


@jax.jit
def oracle_allocate_batch(gain: jax.Array, counts: jax.Array) -> jax.Array:
    """Batched entry point: gain (B+1,), counts (S, N) -> r (S, N) int32."""
    return jax.vmap(oracle_allocation, in_axes=(None, 0))(gain, counts)


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


def oracle_ceil_params(budget: int, sigmoid_k, sigmoid_s) -> OracleParams:
    """`oracle_ceil`'s DP table: c whole blocks plus a sliver buy grid index c + 1, so
    gain'[c] = gain[c + 1] for c = 0..B-1 within B - 1 blocks."""
    return OracleParams(gain=oracle_params(budget, sigmoid_k, sigmoid_s).gain[1:])


def oracle_ceil(params: OracleParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """The exact myopic optimum under the `reference` allocation semantics, where the
    channel grid rounds a real allocation up: k > 0 effective blocks cost k - 1 + ε.
    The integer DP on `oracle_ceil_params` gives c (sum c <= B - 1); every user gets
    c_i + 1/(2N), which executes as c_i + 1 blocks and spends at most B - 1/2.
    (Taking B whole blocks is never better: drop one and every user gains the ceil.)"""
    c = oracle(params, key, obs)
    return c + 0.5 / obs.shape[-1]


def oracle_allocation_numpy(gain, counts, by_count: bool = True):
    """Plain NumPy reference of the same DP (a loop over users, vectorised over
    the budget) for tests and benchmarks: gain (B+1,), counts (N,) -> r (N,) int.

    float64; ties to the fewest blocks. by_count: users by decreasing count with
    r <= B // k for the k-th, as `_dp_batch`; False: the textbook DP (every user,
    every r) on the raw gain."""
    gain = np.asarray(gain, np.float64)
    counts = np.asarray(counts, np.float64)
    num_users, budget = counts.shape[0], gain.shape[0] - 1
    order = np.argsort(-counts, kind="stable") if by_count else np.arange(num_users)
    first = np.arange(budget + 1)
    if by_count:  # running max of the gain, as `_running_best`
        before = np.concatenate([[-np.inf], np.maximum.accumulate(gain)[:-1]])
        first = np.maximum.accumulate(np.where(gain > before, first, 0))
        gain = np.maximum.accumulate(gain)
    b = np.arange(budget + 1)
    value = np.zeros(budget + 1)  # V_0(b)
    choice = []  # per user: best r for each budget b
    for k, u in enumerate(counts[order]):
        limit = budget // (k + 1) if by_count else budget
        rest = b[:, None] - np.arange(limit + 1)[None, :]  # (B+1, limit+1) [b, r]
        cand = np.where(rest >= 0, value[np.maximum(rest, 0)] + u * gain[: limit + 1], -np.inf)
        choice.append(np.argmax(cand, axis=1))
        value = cand[b, choice[-1]]
    r = np.zeros(num_users, np.int64)
    left = budget
    for k in range(num_users - 1, -1, -1):
        r[order[k]] = first[choice[k][left]]
        left -= choice[k][left]
    return r
