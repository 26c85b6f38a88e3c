"""The DQL agent behind the env's policy interface ``act(policy_params, key, obs) -> r``.

`dql_policy` decides for one slice (obs: (N,) int32 observed counts) and returns
resource blocks (N,); the rollout vmaps it over slices, so the candidates of all
slices are sampled in one batch. Window and budget come from the agent's config.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from difsched_jax.agents.dql.agent import ACT_METHODS, DQLAgent, _act, ranking_critic
from difsched_jax.agents.dql.config import DQLConfig
from difsched_jax.env.build import action_to_allocation, normalize_obs


@struct.dataclass
class DQLPolicyParams:
    actor: dict  # online actor params (samples candidates)
    critic: dict  # params of the critic that ranks candidates (online by default)
    eta: jax.Array  # () DDIM η, traced
    config: DQLConfig = struct.field(pytree_node=False)
    num_candidates: int = struct.field(pytree_node=False, default=50)
    method: str = struct.field(pytree_node=False, default="greedy")
    # add the critic's exact best allocation to the candidates (None: the config's)
    argmax: bool | None = struct.field(pytree_node=False, default=None)


def policy_params(
    agent: DQLAgent,
    num_candidates: int = 50,
    eta: float = 1.0,
    method: str = "greedy",
    critic: str = "online",
    argmax: bool | None = None,
) -> DQLPolicyParams:
    """Policy params for evaluation (defaults: 50 candidates, η = 1, greedy) or
    exploration (e.g. 10 candidates, "eas", η ~ U(0.5, 3)); `critic` ranks candidates
    ("online" or "target", see `ranking_critic`)."""
    if method not in ACT_METHODS:
        raise ValueError(f"method must be one of {ACT_METHODS}, got {method!r}")
    return DQLPolicyParams(
        actor=agent.actor,
        critic=ranking_critic(agent, critic),
        eta=jnp.asarray(eta, jnp.float32),
        config=agent.config,
        num_candidates=num_candidates,
        method=method,
        argmax=argmax,
    )


def dql_policy(params: DQLPolicyParams, key, obs_counts):
    """Counts (N,) → state → action → resource blocks r (N,) in [0, B]."""
    cfg = params.config
    s = normalize_obs(obs_counts, cfg.window)[None]  # (1, N)
    a = _act(
        params.actor,
        params.critic,
        cfg,
        key,
        s,
        params.num_candidates,
        params.eta,
        params.method,
        params.argmax,
    )[0]
    return action_to_allocation(a, cfg.budget)
