"""Build `EnvSpec`/`EnvParams` from a config and a trace; agent-facing conventions."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from difsched_jax.config import SliceConfig
from difsched_jax.env.binomial import build_loss_tables
from difsched_jax.env.traffic_models import traffic_model
from difsched_jax.env.types import OBS_MODES, EnvParams, EnvSpec
from difsched_jax.traffic import load_trace
from difsched_jax.traffic.trace import Trace


def make_env(
    config: SliceConfig,
    trace: Trace,
    split: str = "test",
    obs: str = "predicted",
    episode_len: int = 1000,
) -> tuple[EnvSpec, EnvParams]:
    """The evaluation/data environment of a slice config on one split of a trace."""
    if obs not in OBS_MODES:
        raise ValueError(f"obs must be one of {OBS_MODES}, got {obs!r}")
    if trace.window != config.window:
        raise ValueError(
            f"trace window {trace.window} does not match config window {config.window}"
        )
    actual, predicted = trace.split(split)
    actual_i = np.floor(actual).astype(np.int32)
    observed_i = np.floor(predicted if obs == "predicted" else actual).astype(np.int32)
    k, s = zip(*config.sigmoid_pairs)
    spec = EnvSpec(
        num_users=config.num_users,
        window=config.window,
        episode_len=episode_len,
        traffic=config.traffic,
        allocation=config.allocation,
        objective=config.objective,
    )
    params = EnvParams(
        actual=jnp.asarray(actual_i),
        observed=jnp.asarray(observed_i),
        sigmoid_k=jnp.asarray(k, jnp.float32),
        sigmoid_s=jnp.asarray(s, jnp.float32),
        budget=jnp.asarray(config.budget, jnp.int32),
        traffic_params=traffic_model(config.traffic).build(actual, config.window),
    )
    return spec, with_loss_tables(params, spec)


def make_env_for(
    config: SliceConfig,
    traffic_dir=None,
    split: str = "test",
    obs: str = "predicted",
    *,
    seed: int = 0,
    alignment: str = "reference",
    episode_len: int = 1000,
) -> tuple[EnvSpec, EnvParams]:
    """`make_env` on the config's flow as everything runs it: the trace of
    `traffic.load_trace` (real files in `traffic_dir`, else synthetic with `seed`)."""
    trace = load_trace(config.flow, config.window, traffic_dir, seed, alignment)
    return make_env(config, trace, split, obs, episode_len)


def with_loss_tables(params: EnvParams, spec: EnvSpec) -> EnvParams:
    """`params` with loss tables rebuilt from its (concrete) sigmoid pairs and budget.

    Call after replacing sigmoid pairs or the budget of params from `make_env`,
    or on hand-made params (without tables the step uses the slower sampler).
    Built from the float32 values the step sees, so rebuilding is reproducible.
    """
    tables = build_loss_tables(
        np.asarray(params.sigmoid_k), np.asarray(params.sigmoid_s), int(params.budget), spec.window
    )
    return params.replace(loss_tables=tables)


def split_params(params: EnvParams, val_fraction: float) -> tuple[EnvParams, EnvParams]:
    """Cut a split's trace in two: the first part to train on, the last
    `val_fraction` held out for model selection (validation)."""
    length = params.actual.shape[0]
    n_val = int(round(length * val_fraction))
    if not 2 <= n_val <= length - 2:
        raise ValueError(
            f"val_fraction {val_fraction} leaves {n_val} of {length} windows for validation; "
            "both parts need at least 2"
        )
    cut = length - n_val
    train = params.replace(actual=params.actual[:cut], observed=params.observed[:cut])
    val = params.replace(actual=params.actual[cut:], observed=params.observed[cut:])
    return train, val


# --- agent-facing conventions (SPEC §1) -------------------------------------


def normalize_obs(counts, window: int):
    """State s = 2u/L - 1 in [-1, 1]^N."""
    return 2.0 * jnp.asarray(counts, jnp.float32) / window - 1.0


def action_to_allocation(action, budget):
    """r = (a + 1) B / 2, clipped to [0, B]."""
    budget = jnp.asarray(budget, jnp.float32)
    return jnp.clip((jnp.asarray(action, jnp.float32) + 1.0) * budget / 2.0, 0.0, budget)


def allocation_to_action(r, budget):
    """Inverse of `action_to_allocation`: a = 2r/B - 1 (clipped to [-1, 1])."""
    return jnp.clip(
        2.0 * jnp.asarray(r, jnp.float32) / jnp.asarray(budget, jnp.float32) - 1.0, -1.0, 1.0
    )
