"""Fast key derivation and random words for the step: Threefry-2x32, unrolled.

`jax.random.split` + `jax.random.bits` per window cost one threefry pass each
(several per step). `split_words` makes every key and word a step needs in one
pass: the hash applied to the key's data with a counter, as `jax.random.split`
does for threefry keys, so derived keys and words are as good as JAX's (not
bitwise the same stream).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotl(x: jax.Array, r) -> jax.Array:
    return (x << r) | (x >> (jnp.uint32(32) - r))


def threefry2x32(k0, k1, x0, x1) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32, 20 rounds (Salmon et al. 2011), on broadcastable uint32 arrays.

    Groups of 4 rounds in a rolled loop, as JAX does on CPU: the loop's result
    is materialised once. (Fully unrolled, XLA fuses all 80 ops into each
    consumer, e.g. once per pair of users in the budget rule.)
    """
    ks = jnp.stack([k0, k1, k0 ^ k1 ^ _PARITY])  # (3, ...)
    rotations = jnp.asarray(_ROTATIONS, jnp.uint32)  # (2, 4)

    def group(i, x):
        x0, x1 = x
        for j in range(4):
            x0 = x0 + x1
            x1 = _rotl(x1, rotations[i % 2, j]) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + jnp.asarray(i + 1, jnp.uint32)
        return x0, x1

    shape = jnp.broadcast_shapes(jnp.shape(x0), jnp.shape(x1), jnp.shape(k0))
    x0 = jnp.broadcast_to(x0 + ks[0], shape)
    x1 = jnp.broadcast_to(x1 + ks[1], shape)
    return jax.lax.fori_loop(0, 5, group, (x0, x1))


def _is_typed(key: jax.Array) -> bool:
    return jnp.issubdtype(key.dtype, jax.dtypes.prng_key)


def key_words(key: jax.Array, num: int) -> jax.Array:
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
    y0, y1 = threefry2x32(k0, k1, counter, jnp.zeros_like(counter))
    return jnp.concatenate([y0, y1])[:num]


def split_words(key: jax.Array, num_keys: int, num_words: int) -> tuple[jax.Array, jax.Array]:
    """`num_keys` new keys (same impl as `key`) and `num_words` uint32 words, one hash pass.

    Returns (keys (num_keys,), words (num_words,)).
    """
    typed = _is_typed(key)
    shape = jax.random.key_data(key).shape if typed else key.shape  # (2,) for threefry
    size = int(np.prod(shape))
    words = key_words(key, num_keys * size + num_words)
    keys = words[: num_keys * size].reshape((num_keys, *shape))
    if typed:
        keys = jax.random.wrap_key_data(keys, impl=jax.random.key_impl(key))
    return keys, words[num_keys * size :]


def uniform_ints(words: jax.Array, span) -> jax.Array:
    """Integers uniform in [0, span) from word pairs, (2, ...) uint32 -> (...) int32.

    JAX's `randint` method: (hi * 2^32 + lo) mod span, so the bias is ~span / 2^64
    (needs span < 2^16 for the products to stay in uint32, as there).
    """
    span = jnp.asarray(span, jnp.uint32)
    two32 = (jnp.uint32(1 << 16) % span) ** 2 % span  # 2^32 mod span
    offset = (words[0] % span) * two32 + words[1] % span
    return (offset % span).astype(jnp.int32)
