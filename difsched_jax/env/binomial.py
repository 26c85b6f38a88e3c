"""Exact binomial sampling of lost packets by table inversion (the step's hot spot).

A user's lost packets are Binomial(n, q) with n <= L and q = 1 - p(idx) from a
small set: one value per (channel pair, grid index), P * B in all. We split
n = A*a + b (A = 32), so that Binomial(n, q) = Binomial(A*a, q) + Binomial(b, q)
(independent parts), and invert each part with one 32-bit random word against
a precomputed CDF table. The search reads whole cache lines: for the A*a part,
a row of every 16th threshold picks the 16-entry block holding the answer and
a second 16-wide read counts within it; the b part is one 32-wide read.

The tables hold CDF thresholds T(x) = round(F(x) * 2^32) (uint32, computed in
float64), and X = #{x < m : T(x) <= word}, so P(X <= j) = T(j) / 2^32 = F(j) to
within 2^-32: the binomial distribution, at finer resolution than a float32
uniform gives. `jax.random.binomial` (rejection sampling in a while loop) was
~10x slower on CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

CHUNK = 32  # A: n = A*a + b (16 gave no gain: a row read costs about the same)
BLOCK = 16  # thresholds per block of the A*a part (one 64-byte cache line)
_MAX_U32 = 2**32 - 1


@struct.dataclass
class LossTables:
    """CDF thresholds of the loss counts, for every (channel pair, grid index).

    Derived from (sigmoid pairs, budget, window): rebuild with `build_loss_tables`
    whenever one of those changes. Entries at x >= m are padding (2^32 - 1).
    With R = L // A + 1 rows (m = A*a) of W = A * (L // A) thresholds:
    """

    hi_index: jax.Array  # (P, B, R, W1) uint32 last threshold of each block (W1 >= W / 16)
    hi: jax.Array  # (P, B, R, W / 16 + 1, 16) uint32 Binomial(A*a, q) thresholds in blocks
    lo: jax.Array  # (P, B, A, A) uint32 row b: Binomial(b, q) thresholds


def loss_probabilities(sigmoid_k, sigmoid_s, budget: int) -> np.ndarray:
    """(P, B) float64 q = 1 - p(idx) = sigmoid(-k (idx - s)) on the grid 0..B-1."""
    k = np.asarray(sigmoid_k, np.float64)[:, None]
    s = np.asarray(sigmoid_s, np.float64)[:, None]
    z = k * (np.arange(budget)[None, :] - s)
    return np.exp(-np.logaddexp(0.0, z))


def _cdf_thresholds(sigmoid_k, sigmoid_s, budget: int, trials, width: int) -> np.ndarray:
    """(P, B, len(trials), width) uint32 round(2^32 F(x; m, q)) for x < m, padding beyond."""
    k = np.asarray(sigmoid_k, np.float64)[:, None]
    s = np.asarray(sigmoid_s, np.float64)[:, None]
    z = k * (np.arange(budget)[None, :] - s)  # (P, B)
    log_q = -np.logaddexp(0.0, z)[..., None, None]  # log q, stable for any z
    log_1q = -np.logaddexp(0.0, -z)[..., None, None]  # log (1 - q)
    m = np.asarray(trials, np.int64)[:, None]  # (R, 1)
    x = np.arange(width)[None, :]  # (1, W)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, max(m.max(), width) + 1)))])
    valid = x < m  # (R, W)
    mx = np.where(valid, m - x, 0)
    log_binom = np.where(valid, log_fact[m] - log_fact[x] - log_fact[mx], -np.inf)
    log_pmf = log_binom + x * log_q + mx * log_1q  # (P, B, R, W)
    cdf = np.cumsum(np.exp(log_pmf), axis=-1)
    thresholds = np.minimum(np.round(cdf * 2.0**32), _MAX_U32)
    return np.where(valid, thresholds, _MAX_U32).astype(np.uint32)


def build_loss_tables(sigmoid_k, sigmoid_s, budget: int, window: int) -> LossTables:
    """Tables for a slice (concrete values; built once, e.g. by `make_env`).

    About P * B * 10 kB: 10 MB for P = 5, B = 200, L = 200.
    """
    budget, window = int(budget), int(window)
    n_hi = window // CHUNK
    width = CHUNK * n_hi  # multiple of BLOCK
    hi = _cdf_thresholds(sigmoid_k, sigmoid_s, budget, CHUNK * np.arange(n_hi + 1), width + BLOCK)
    num_blocks = width // BLOCK
    index_width = max(BLOCK, -(-num_blocks // BLOCK) * BLOCK)  # whole cache lines
    hi_index = np.full(hi.shape[:-1] + (index_width,), _MAX_U32, np.uint32)
    hi_index[..., :num_blocks] = hi[..., BLOCK - 1 : width : BLOCK]
    lo = _cdf_thresholds(sigmoid_k, sigmoid_s, budget, np.arange(CHUNK), CHUNK)
    return LossTables(
        hi_index=jnp.asarray(hi_index),
        hi=jnp.asarray(hi.reshape(hi.shape[:-1] + (num_blocks + 1, BLOCK))),
        lo=jnp.asarray(lo),
    )


def _count_in_rows(table: jax.Array, row: jax.Array, words: jax.Array) -> jax.Array:
    """#{entries <= word} in row `row` of `table` (rows last axis): (N,) rows -> (N,) int32."""
    rows = table.reshape(-1, table.shape[-1]).at[row].get(mode="clip")  # (N, width)
    return jnp.sum(rows <= words[:, None], axis=-1, dtype=jnp.int32)


def sample_losses(
    tables: LossTables,
    channel: jax.Array,
    idx: jax.Array,
    n: jax.Array,
    words: jax.Array,
) -> jax.Array:
    """Lost packets ~ Binomial(n, q[channel, idx]) per user.

    channel: () int32; idx: (N,) int32 grid index; n: (N,) int32 packets;
    words: (2, N) uint32 random bits. Returns (N,) int32.
    """
    _, budget, rows_hi, num_blocks, _ = tables.hi.shape
    q_row = channel * budget + idx  # (N,) row of (pair, grid index)
    a, b = n // CHUNK, n % CHUNK
    lost = jnp.minimum(_count_in_rows(tables.lo, q_row * CHUNK + b, words[1]), b)
    if num_blocks > 1:  # window >= A
        row = q_row * rows_hi + a
        block = _count_in_rows(tables.hi_index, row, words[0])  # whole blocks <= word
        within = _count_in_rows(tables.hi, row * num_blocks + block, words[0])
        lost = lost + jnp.minimum(BLOCK * block + within, CHUNK * a)
    return lost.astype(jnp.int32)


def count_below(flat: jax.Array, base: jax.Array, width: int, words: jax.Array) -> jax.Array:
    """#{x < width : flat[base + x] <= words} for non-decreasing rows, by binary search.

    Probes past the row are clamped to its last entry; the count can then exceed
    `width` only when every entry is <= words (callers cap it at m <= width).
    A rolled loop on purpose: its operands are materialised, whereas unrolled
    gathers each got a fused copy of every producer and recomputed it (XLA:CPU
    drops optimization barriers).
    """
    top = 1 << (width.bit_length() - 1)

    def probe(i, count):
        cand = count + (top >> i)
        entry = flat.at[base + jnp.minimum(cand, width) - 1].get(mode="clip")
        return jnp.where(entry <= words, cand, count)

    return jax.lax.fori_loop(0, top.bit_length(), probe, jnp.zeros_like(base))
