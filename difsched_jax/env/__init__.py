"""The scheduling environment as pure jit/vmap-able functions (SPEC §1)."""

from difsched_jax.env.binomial import LossTables, build_loss_tables
from difsched_jax.env.build import (
    action_to_allocation,
    allocation_to_action,
    make_env,
    make_env_for,
    normalize_obs,
    with_loss_tables,
)
from difsched_jax.env.core import loss_to_reward, reset, step
from difsched_jax.env.rollout import RolloutCarry, Transition, init_carry, rollout, run_windows
from difsched_jax.env.types import EnvParams, EnvSpec, EnvState

__all__ = [
    "EnvParams",
    "EnvSpec",
    "EnvState",
    "LossTables",
    "RolloutCarry",
    "Transition",
    "action_to_allocation",
    "allocation_to_action",
    "build_loss_tables",
    "init_carry",
    "loss_to_reward",
    "make_env",
    "make_env_for",
    "normalize_obs",
    "reset",
    "rollout",
    "run_windows",
    "step",
    "with_loss_tables",
]
