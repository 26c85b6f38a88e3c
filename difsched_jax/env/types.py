"""Pytrees of the scheduling environment (SPEC §1).

`EnvSpec` is static (hashable: shapes and modes, one compile per spec);
`EnvParams` is traced (traces, channel pairs, budget; may differ per slice
and be vmapped); `EnvState` is one slice's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import struct

from difsched_jax.config import (
    check_allocation,
    check_objective,
    check_positive_int,
    check_traffic,
)
from difsched_jax.env.binomial import LossTables

OBS_MODES = ("predicted", "perfect")


@dataclass(frozen=True)
class EnvSpec:
    """Static settings: change one and the step compiles again."""

    num_users: int
    window: int = 200  # L: slots per window, the most packets a user can send
    episode_len: int = 1000  # windows per episode; auto-reset after
    traffic: str = "trace"  # a `config.TRAFFIC_MODELS` name: "trace" (cursors) or "markov"
    # `config.ALLOCATIONS`: "integer" executes whole blocks (`channel.whole_blocks`),
    # "reference" the real request with the reference's ceil on the channel grid
    allocation: str = "integer"
    objective: str = "loss"  # `config.OBJECTIVES`: what `info["loss"]` (and the reward) measure

    def __post_init__(self):
        for name in ("num_users", "window", "episode_len"):
            check_positive_int(f"EnvSpec.{name}", getattr(self, name))
        check_traffic("EnvSpec", self.traffic)
        check_allocation("EnvSpec", self.allocation)
        check_objective("EnvSpec", self.objective)


@struct.dataclass
class EnvParams:
    """Traced settings of a slice. Counts are floored ints."""

    actual: jax.Array  # (T,) int32 actual counts of the chosen split (losses use these)
    observed: jax.Array  # (T,) int32 what the scheduler sees (predicted or actual)
    sigmoid_k: jax.Array  # (P,) float32 channel pairs, one drawn per window
    sigmoid_s: jax.Array  # (P,) float32
    budget: jax.Array  # () int32 resource blocks B
    # the traffic model's own (`traffic_models.MODEL.build`): markov's (L+1, L+1) row CDFs
    traffic_params: object = None
    # Derived from (sigmoid pairs, budget, window) by `make_env`: rebuild with
    # `build_loss_tables` after changing any of them. None: the step falls back
    # to jax.random.binomial (same distribution, other draws, ~10x slower on CPU).
    loss_tables: LossTables | None = None


@struct.dataclass
class EnvState:
    """One slice. `counts` are the actual counts of the current window."""

    cursors: jax.Array  # (N,) int32 per-user position in the trace
    counts: jax.Array  # (N,) int32 actual packets this window
    obs: jax.Array  # (N,) int32 observed packets this window
    channel: jax.Array  # () int32 index of this window's channel pair (hidden)
    t: jax.Array  # () int32 windows elapsed in this episode
