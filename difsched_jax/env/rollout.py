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

from difsched_jax.env.channel import enforce_budget_batch, executed_request, over_budget
from difsched_jax.env.core import draw_words, finish, reset, select_state
from difsched_jax.env.prng import split_keys_batch, split_words
from difsched_jax.env.types import EnvParams, EnvSpec, EnvState

Policy = Callable[[object, jax.Array, jax.Array], jax.Array]


@struct.dataclass
class Transition:
    """Stacked record; leading axes (windows, slices) from `rollout`."""

    obs: jax.Array  # (..., N) int32 observed counts
    action: jax.Array  # (..., N) float32 requested allocation r
    granted: jax.Array  # (..., N) float32 allocation after the budget rule
    loss: jax.Array  # (...,) float32 packet-loss rate
    reward: jax.Array  # (...,) float32 the env's reward (`env.core.reward_of` the loss)
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


@partial(jax.jit, static_argnames=("spec", "num_slices"))
def init_carry(
    key: jax.Array, params: EnvParams, spec: EnvSpec, num_slices: int, first_slice=0
) -> RolloutCarry:
    """Reset `num_slices` slices (ids first_slice..) with independent keys.

    Jitted (eagerly it took seconds); `first_slice` may be traced.
    """
    keys = slice_keys(key, first_slice + jnp.arange(num_slices))
    split = jax.vmap(lambda k: split_words(k, 2, 0)[0])(keys)  # (S, 2) reset/run keys
    _, state = jax.vmap(reset, in_axes=(0, None, None))(split[:, 0], params, spec)
    return RolloutCarry(state=state, key=split[:, 1])


def _start_window(params: EnvParams, spec: EnvSpec, r, k_step):
    """One slice: the window's random words and the executed request (N,) (sanitised,
    whole blocks under `integer`) with whether it is over budget."""
    k_reset, words = draw_words(k_step, spec)  # materialised: several consumers below
    requested = executed_request(r, params.budget, spec.allocation)  # (N,)
    return k_reset, words, requested, over_budget(requested, params.budget)


def step_window(
    state: EnvState, k_step: jax.Array, r: jax.Array, params: EnvParams, spec: EnvSpec
) -> tuple[EnvState, Transition]:
    """Every slice one window with the allocations r (S, N) and per-slice keys k_step (S,):
    the new (auto-reset) states and the window's record (leading axis S).

    Same results as a vmapped `step` per slice, but the budget rule and the reset
    are computed only when some slice is over budget or ends its episode. The one
    step path: `run_windows` calls it with a policy's r, the deep-RL learners with theirs.
    """
    r = jnp.asarray(r, jnp.float32)
    k_reset, words, requested, over = jax.vmap(partial(_start_window, params, spec))(r, k_step)
    granted = enforce_budget_batch(words, requested, params.budget, over)  # (S, N)
    end = jax.vmap(finish, in_axes=(0, 0, 0, None, None))
    next_state, reward, done, info = end(words, state, granted, params, spec)
    reset_all = jax.vmap(lambda k: reset(k, params, spec)[1])
    next_state = jax.lax.cond(
        jnp.any(done),
        lambda: select_state(done, reset_all(k_reset), next_state),
        lambda: next_state,
    )
    record = Transition(
        obs=state.obs,
        action=r,
        granted=granted,
        loss=info["loss"],
        reward=reward,
        next_obs=info["next_obs"],
        actual=info["actual"],
        empty=info["empty"],
        episode_start=state.t == 0,
        done=done,
    )
    return next_state, record


def policy_name(policy) -> str:
    return getattr(policy, "__qualname__", None) or repr(policy)


def checked_action(policy, r, obs: jax.Array) -> jax.Array:
    """A policy's output for one slice as float32 (N,), its shape checked once, at trace
    time, with an error that names the policy (not one from deep inside JAX)."""
    shape = jnp.shape(r)
    if shape != obs.shape:
        raise ValueError(
            f"policy {policy_name(policy)} returned an allocation of shape {shape} for an "
            f"observation of shape {obs.shape}: a policy returns one allocation per user"
        )
    if not jnp.issubdtype(jnp.result_type(r), jnp.number) or jnp.iscomplexobj(r):
        raise ValueError(
            f"policy {policy_name(policy)} returned {jnp.result_type(r)} allocations: "
            "expected real numbers (resource blocks)"
        )
    return jnp.asarray(r, jnp.float32)


def run_windows(
    policy: Policy,
    policy_params,
    params: EnvParams,
    spec: EnvSpec,
    carry: RolloutCarry,
    num_windows: int,
) -> tuple[RolloutCarry, Transition]:
    """Advance every slice `num_windows` windows. Returns the new carry and a
    Transition with leading axes (num_windows, S). Jit it with policy/spec/num_windows static.

    Each window: per-slice keys split into next/policy/step keys, the policy's
    allocation per slice, then `step_window`.
    """
    act = jax.vmap(lambda k, obs: checked_action(policy, policy(policy_params, k, obs), obs))

    def body(c: RolloutCarry, _):
        key, k_act, k_step = split_keys_batch(c.key, 3)  # per slice: next, policy, step
        state, record = step_window(c.state, k_step, act(k_act, c.state.obs), params, spec)
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
