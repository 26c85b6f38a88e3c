"""A first-order Markov chain over counts, fitted to the split's actual trace
(`traffic.markov.transition_cdf`); the scheduler sees the true count. A user on a
count never seen in the trace stays where it is (the reference would crash)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from difsched_jax.env.sampling import markov_next_words
from difsched_jax.traffic.markov import transition_cdf

WORDS_PER_USER = 1


def build(actual, window: int):
    return jnp.asarray(transition_cdf(actual, window))  # (L+1, L+1) float32 row CDFs


def observe(cursors, counts, params):
    return counts


def advance(words, state, params):
    counts = markov_next_words(words, state.counts, params.traffic_params)
    return state.cursors, counts, counts


def observation_pairs(params):
    return params.actual, params.actual  # the scheduler sees the true count


def numpy_observe(cursors, counts, observed):
    return counts.copy()


def numpy_advance(rng, cursors, counts, actual, observed, traffic_params):
    cdf = np.asarray(traffic_params, np.float64)  # (L+1, L+1)
    u = rng.random(counts.shape)[..., None]
    nxt = np.minimum((cdf[counts] <= u).sum(axis=-1), cdf.shape[0] - 1)
    counts = np.where(cdf[counts, -1] > 0, nxt, counts)
    return cursors, counts, counts.copy()
