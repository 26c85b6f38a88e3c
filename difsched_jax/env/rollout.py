"""One scan-based rollout used everywhere: datasets, evaluation, benchmarks, training.

A policy is any pure ``act(policy_params, key, obs) -> r`` for one slice
(obs: (N,) int32 observed counts; r: (N,) allocation in resource blocks).
The rollout vmaps it over slices and scans over windows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

from difsched_jax.env.core import reset, step
from difsched_jax.env.types import EnvParams, EnvSpec, EnvState

Policy = Callable[[object, jax.Array, jax.Array], jax.Array]


@struct.dataclass
class Transition:
    """Stacked record; leading axes (windows, slices) from `rollout`."""

    obs: jax.Array  # (..., N) int32 observed counts
    action: jax.Array  # (..., N) float32 requested allocation r
    granted: jax.Array  # (..., N) float32 allocation after the budget rule
    loss: jax.Array  # (...,) float32 packet-loss rate
    next_obs: jax.Array  # (..., N) int32 observation of the next window
    actual: jax.Array  # (..., N) int32 actual counts
    empty: jax.Array  # (...,) bool nobody sent (loss 0)
    episode_start: jax.Array  # (...,) bool first window of an episode
    done: jax.Array  # (...,) bool last window of an episode


@struct.dataclass
class RolloutCarry:
    """What a chunked rollout needs to continue exactly: per-slice states and keys."""

    state: EnvState  # batched over slices
    key: jax.Array  # (S,) per-slice keys


def slice_keys(key: jax.Array, slice_ids: jax.Array) -> jax.Array:
    """Per-slice keys that depend only on the slice id (not on how slices are split)."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, slice_ids)


def init_carry(
    key: jax.Array, params: EnvParams, spec: EnvSpec, num_slices: int, first_slice: int = 0
) -> RolloutCarry:
    """Reset `num_slices` slices (ids first_slice..) with independent keys."""
    keys = slice_keys(key, first_slice + jnp.arange(num_slices))
    split = jax.vmap(jax.random.split)(keys)  # (S, 2)
    _, state = jax.vmap(reset, in_axes=(0, None, None))(split[:, 0], params, spec)
    return RolloutCarry(state=state, key=split[:, 1])


def _slice_step(policy: Policy, policy_params, params: EnvParams, spec: EnvSpec, state, key):
    k_next, k_act, k_step = jax.random.split(key, 3)
    obs = state.obs
    r = policy(policy_params, k_act, obs)
    next_obs_or_reset, new_state, _, done, info = step(k_step, state, r, params, spec)
    del next_obs_or_reset
    record = Transition(
        obs=obs,
        action=jnp.asarray(r, jnp.float32),
        granted=info["granted"],
        loss=info["loss"],
        next_obs=info["next_obs"],
        actual=info["actual"],
        empty=info["empty"],
        episode_start=state.t == 0,
        done=done,
    )
    return new_state, k_next, record


def run_windows(
    policy: Policy,
    policy_params,
    params: EnvParams,
    spec: EnvSpec,
    carry: RolloutCarry,
    num_windows: int,
) -> tuple[RolloutCarry, Transition]:
    """Advance every slice `num_windows` windows. Returns the new carry and a
    Transition with leading axes (num_windows, S). Jit it with policy/spec/num_windows static."""
    slice_step = jax.vmap(partial(_slice_step, policy, policy_params, params, spec), in_axes=(0, 0))

    def body(c: RolloutCarry, _):
        state, key, record = slice_step(c.state, c.key)
        return RolloutCarry(state=state, key=key), record

    return jax.lax.scan(body, carry, None, length=num_windows)


@partial(jax.jit, static_argnames=("policy", "spec", "num_slices", "num_windows"))
def rollout(
    policy: Policy,
    policy_params,
    params: EnvParams,
    spec: EnvSpec,
    key: jax.Array,
    num_slices: int,
    num_windows: int,
) -> Transition:
    """Reset `num_slices` slices and run them `num_windows` windows: (T, S, ...) record."""
    carry = init_carry(key, params, spec, num_slices)
    _, transitions = run_windows(policy, policy_params, params, spec, carry, num_windows)
    return transitions
