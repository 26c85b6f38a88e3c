"""Simple policies, all ``act(policy_params, key, obs) -> r`` for one slice.

policy_params of a heuristic is its `HeuristicParams` (budget, window).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class HeuristicParams:
    budget: jax.Array  # () resource blocks B


def heuristic_params(budget: int) -> HeuristicParams:
    return HeuristicParams(budget=jnp.asarray(budget, jnp.float32))


def equal_share(params: HeuristicParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """Every user gets B / N."""
    del key
    n = obs.shape[-1]
    return jnp.full(obs.shape, params.budget / n, jnp.float32)


def random_policy(params: HeuristicParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """A uniform random action a in [-1, 1]^N, i.e. r_i ~ U(0, B) per user (as a
    Gym action-space sample); the environment's budget rule then cuts the excess."""
    return jax.random.uniform(key, obs.shape, jnp.float32, 0.0, 1.0) * params.budget
