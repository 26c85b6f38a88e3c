"""Trace replay (the default): each user walks its own cursor through the split's
trace; losses use the actual counts, the scheduler sees the observed ones."""

from __future__ import annotations

WORDS_PER_USER = 0


def build(actual, window: int):
    return None


def observe(cursors, counts, params):
    return params.observed[cursors]


def advance(words, state, params):
    cursors = (state.cursors + 1) % params.actual.shape[0]
    return cursors, params.actual[cursors], params.observed[cursors]


def numpy_observe(cursors, counts, observed):
    return observed[cursors]


def numpy_advance(rng, cursors, counts, actual, observed, traffic_params):
    cursors = (cursors + 1) % actual.shape[0]
    return cursors, actual[cursors], observed[cursors]
