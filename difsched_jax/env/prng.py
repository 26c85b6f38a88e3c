"""Fast key derivation and random words for the step: Threefry-2x32 in jnp ops.

`jax.random.split` + `jax.random.bits` per window cost one threefry pass each,
and JAX lowers threefry on CPU as a slow rolled loop. `split_words` makes the
keys and words a step needs in one pass of the same hash written in jnp ops:
the hash of the key's data with a counter, as `jax.random.split` does for
threefry keys, so derived keys and words are as good as JAX's (a different
stream, not JAX's bits).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _mix(x0, x1, r: int):
    """One round: add, rotate left by r, xor."""
    x0 = x0 + x1
    return x0, ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))) ^ x0


def _rounds(x0, x1, ks, group):
    """Four rounds of group `group` (static) and the key injection after it."""
    for r in _ROTATIONS[group % 2]:
        x0, x1 = _mix(x0, x1, r)
    return x0 + ks[(group + 1) % 3], x1 + ks[(group + 2) % 3] + np.uint32(group + 1)


def threefry2x32(k0, k1, x0, x1, materialize: bool = False) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32, 20 rounds (Salmon et al. 2011), on broadcastable uint32 arrays.

    Unrolled it fuses into one cheap kernel, but XLA also fuses it into every
    consumer: the budget rule's (N, N) comparison then hashed 2 N^2 times
    instead of N. `materialize=True` runs groups 1-4 as a rolled loop whose
    result is computed once (~2x the hash's cost; same bits either way).
    """
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0, x1 = _rounds(x0 + ks[0], x1 + ks[1], ks, 0)
    if not materialize:
        for group in range(1, 5):
            x0, x1 = _rounds(x0, x1, ks, group)
        return x0, x1
    shape = jnp.broadcast_shapes(jnp.shape(x0), jnp.shape(x1))
    ks_all = jnp.stack([jnp.broadcast_to(k, jnp.shape(ks[0])) for k in ks])  # (3, ...)

    def two_groups(j, x):
        # groups 2j+1 (odd rotations) and 2j+2 (even); key injections indexed by j
        x0, x1 = x
        for offset, rotations in ((1, _ROTATIONS[1]), (2, _ROTATIONS[0])):
            group = 2 * j + offset
            for r in rotations:
                x0, x1 = _mix(x0, x1, r)
            x0 = x0 + ks_all[(group + 1) % 3]
            x1 = x1 + ks_all[(group + 2) % 3] + jnp.asarray(group + 1, jnp.uint32)
        return x0, x1

    init = (jnp.broadcast_to(x0, shape), jnp.broadcast_to(x1, shape))
    return jax.lax.fori_loop(0, 2, two_groups, init)


def _is_typed(key: jax.Array) -> bool:
    return jnp.issubdtype(key.dtype, jax.dtypes.prng_key)


def key_words(key: jax.Array, num: int, materialize: bool = False) -> jax.Array:
    """(num,) uint32 words hashed from one key, typed (any impl: its data is folded to
    2 words) or a raw uint32 threefry key."""
    data = jax.random.key_data(key) if _is_typed(key) else key
    data = data.reshape(-1).astype(jnp.uint32)
    k0 = data[0::2]
    k1 = data[1::2]
    k0 = jnp.bitwise_xor.reduce(k0) if k0.shape[0] > 1 else k0[0]
    k1 = jnp.bitwise_xor.reduce(k1) if k1.shape[0] > 1 else k1[0]
    half = (num + 1) // 2
    counter = jnp.arange(half, dtype=jnp.uint32)
    y0, y1 = threefry2x32(k0, k1, counter, jnp.zeros_like(counter), materialize)
    return jnp.concatenate([y0, y1])[:num]


def split_words(
    key: jax.Array, num_keys: int, num_words: int, materialize: bool = False
) -> tuple[jax.Array, jax.Array]:
    """`num_keys` new keys (same impl as `key`) and `num_words` uint32 words, one hash
    pass (`materialize`: see `threefry2x32`; the bits are the same).

    Returns (keys (num_keys,), words (num_words,)).
    """
    typed = _is_typed(key)
    shape = jax.random.key_data(key).shape if typed else key.shape  # (2,) for threefry
    size = int(np.prod(shape))
    words = key_words(key, num_keys * size + num_words, materialize)
    keys = words[: num_keys * size].reshape((num_keys, *shape))
    if typed:
        keys = jax.random.wrap_key_data(keys, impl=jax.random.key_impl(key))
    return keys, words[num_keys * size :]


def split_keys_batch(keys: jax.Array, num_keys: int) -> jax.Array:
    """(S,) keys -> (num_keys, S) keys: `split_words(k, num_keys, 0)[0]` for each k,
    hashed with the slices as the minor axis (a vmapped split of 3 keys had
    3 as its minor axis and ran as scalar code, several times slower)."""
    typed = _is_typed(keys)
    data = (jax.random.key_data(keys) if typed else keys).astype(jnp.uint32)  # (S, 2)
    if data.shape[-1] != 2:  # other key impls: per-slice path
        return jax.vmap(lambda k: split_words(k, num_keys, 0)[0], out_axes=1)(keys)
    counter = jnp.arange(num_keys, dtype=jnp.uint32)[:, None]  # (K, 1)
    y0, y1 = threefry2x32(data[None, :, 0], data[None, :, 1], counter, jnp.zeros_like(counter))
    words = jnp.concatenate([y0, y1])  # (2K, S), as split_words orders them
    out = words.reshape(num_keys, 2, -1).transpose(0, 2, 1)  # (K, S, 2)
    return jax.random.wrap_key_data(out, impl=jax.random.key_impl(keys)) if typed else out


def uniform_ints(words: jax.Array, span) -> jax.Array:
    """Integers uniform in [0, span) from word pairs, (2, ...) uint32 -> (...) int32.

    JAX's `randint` method, (hi * 2^32 + lo) mod span: bias ~span / 2^64. Its
    products stay in uint32 only for span <= 2^16; a larger static span (a very
    long trace) uses hi mod span (bias ~span / 2^32).
    """
    if isinstance(span, int) and span > 1 << 16:
        return (words[0] % jnp.uint32(span)).astype(jnp.int32)
    span = jnp.asarray(span, jnp.uint32)
    two32 = (jnp.uint32(1 << 16) % span) ** 2 % span  # 2^32 mod span
    offset = (words[0] % span) * two32 + words[1] % span
    return (offset % span).astype(jnp.int32)
