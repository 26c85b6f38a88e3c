"""Traffic models: how a slice's packet counts move from one window to the next.

A model is one module with these names (see `trace` and `markov`):

    WORDS_PER_USER                            random uint32 words `advance` uses per user
    build(actual, window) -> pytree | None    traced parameters (EnvParams.traffic_params)
    observe(cursors, counts, params) -> obs   the first observation after a reset (JAX)
    advance(words, state, params) -> (cursors, counts, obs)               one window (JAX)
    numpy_observe(cursors, counts, observed) -> obs                      the NumPy reference's
    numpy_advance(rng, cursors, counts, actual, observed, traffic_params)
        -> (cursors, counts, obs)    one window of the NumPy reference (any leading axes)
    observation_pairs(params) -> (observed, scored)   optional: the (observed count, count
        scored) pairs whose law is P(u | o), for the oracle-bayes yardsticks; default
        (params.observed, params.actual), the trace's own pairing

`params` is the slice's `EnvParams` (the trace of the chosen split: ``params.actual``,
``params.observed``; the model's own ``params.traffic_params``); `state` its
`EnvState`; `words` (N·WORDS_PER_USER,) uint32. Counts are int32 in [0, L].
Adding a model is its module plus one line in `config.TRAFFIC_MODELS`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from difsched_jax.config import TRAFFIC_MODELS


def traffic_model(name: str) -> ModuleType:
    """The module of traffic model `name` (imported on first use)."""
    if name not in TRAFFIC_MODELS:
        raise ValueError(f"traffic must be one of {tuple(TRAFFIC_MODELS)}, got {name!r}")
    return importlib.import_module(TRAFFIC_MODELS[name])


def observation_pairs(name: str, params) -> tuple:
    """(observed, scored) count arrays of the split in `params` under model `name`."""
    model = traffic_model(name)
    if hasattr(model, "observation_pairs"):
        return model.observation_pairs(params)
    return params.observed, params.actual


__all__ = ["TRAFFIC_MODELS", "observation_pairs", "traffic_model"]
