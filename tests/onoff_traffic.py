"""A traffic model written for the tests (`test_env_traffic_models`): each window
every user is on with probability ½ and then sends the trace's peak count, else
nothing; the scheduler sees the true count. One module, one registry line."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

WORDS_PER_USER = 1


def build(actual, window: int):
    return jnp.int32(np.max(actual))  # the peak count


def observe(cursors, counts, params):
    return counts


def advance(words, state, params):
    counts = jnp.where(words >> 31 == 1, params.traffic_params, 0).astype(jnp.int32)
    return state.cursors, counts, counts


def numpy_observe(cursors, counts, observed):
    return counts.copy()


def numpy_advance(rng, cursors, counts, actual, observed, traffic_params):
    counts = np.where(rng.random(counts.shape) < 0.5, int(traffic_params), 0)
    return cursors, counts, counts.copy()
