"""The environment as the deep-RL trainers see it: S slices stepped together.

A vmapped `env.reset` and the rollout's `step_window` (every slice one window),
plus the agent-facing conventions (state 2u/L - 1, r = (a + 1) B / 2, reward 1 - loss). Episode ends
are time limits, not terminal states: learners bootstrap from
``info["next_obs"]``, the true successor, never from the auto-reset state.
"""

from __future__ import annotations

import jax
from flax import struct

from difsched_jax.env import EnvParams, EnvSpec, EnvState, normalize_obs, reset
from difsched_jax.env.build import action_to_allocation
from difsched_jax.env.rollout import step_window


@struct.dataclass
class VecStep:
    """One step of S slices; every field has leading axis S."""

    next_state: EnvState
    reward: jax.Array  # (S,) 1 - loss
    loss: jax.Array  # (S,) packet-loss rate
    next_s: jax.Array  # (S, N) normalised true successor state (before any auto-reset)
    done: jax.Array  # (S,) bool episode ended (time limit) this step


def reset_slices(key: jax.Array, params: EnvParams, spec: EnvSpec, num_slices: int) -> EnvState:
    keys = jax.random.split(key, num_slices)
    _, state = jax.vmap(reset, in_axes=(0, None, None))(keys, params, spec)
    return state


def observe(state: EnvState, spec: EnvSpec) -> jax.Array:
    """(S, N) normalised state s = 2u/L - 1 of the observed counts."""
    return normalize_obs(state.obs, spec.window)


def step_slices(
    key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams, spec: EnvSpec
) -> VecStep:
    """Step every slice with agent actions a in [-1, 1]^N, (S, N): a thin adapter over
    the rollout's `step_window` (the one step path, and the env's one reward)."""
    r = action_to_allocation(action, params.budget)  # (S, N) resource blocks
    keys = jax.random.split(key, action.shape[0])
    new_state, rec = step_window(state, keys, r, params, spec)
    return VecStep(
        next_state=new_state,
        reward=rec.reward,
        loss=rec.loss,
        next_s=normalize_obs(rec.next_obs, spec.window),
        done=rec.done,
    )
