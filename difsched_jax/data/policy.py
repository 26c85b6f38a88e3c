"""The behaviour policy of a dataset config (SPEC §4): per sub-agent set, the MDP
sub-agents named by the config, one per user group of its user_map.

Sub-agents are solved on the fly from their flow's train counts, or loaded from a
folder written by `difsched build-agent` (the reference's files work too).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
from flax import struct

from difsched_jax.agents.mdp import (
    MDPPolicyParams,
    load_subagents,
    mdp_act,
    slice_policy_params,
    training_counts,
)
from difsched_jax.agents.mdp.solve import timed_solve
from difsched_jax.config import SliceConfig, get_subagent_config


@struct.dataclass
class NoisyMDPParams:
    mdp: MDPPolicyParams
    noise_rb: jax.Array  # () std of the added noise, resource blocks


def noisy_mdp_act(params: NoisyMDPParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """The MDP sub-agents' request plus Gaussian noise per user, clipped at 0 (the budget
    rule then cuts any excess): wider coverage of allocations for the critic."""
    r = mdp_act(params.mdp, key, obs)  # (N,)
    return jnp.maximum(r + params.noise_rb * jax.random.normal(key, r.shape), 0.0)


def behaviour_policies(
    config: SliceConfig,
    traffic_dir: str | os.PathLike | None = None,
    agents_dir: str | os.PathLike | None = None,
    seed: int = 0,
    noise: float = 0.0,
) -> tuple[list[tuple], dict]:
    """([(act, params) per sub-agent set], facts for meta.json). `noise` > 0: the noisy
    variant, noise std = noise × B/N resource blocks per user (0: SPEC §4's policy)."""
    if not noise >= 0:
        raise ValueError(f"behaviour noise must be ≥ 0 (in units of B/N), got {noise!r}")
    if not config.sub_agents:
        raise ValueError(f"{type(config).__name__} names no sub-agents: no behaviour policy")
    indices = sorted({i for agent_set in config.sub_agents for i in agent_set})
    if agents_dir is not None:
        solutions = load_subagents(agents_dir, indices)
        facts = {i: {"loaded": os.fspath(agents_dir)} for i in indices}
    else:
        solutions, facts = {}, {}
        for i in indices:
            sub = get_subagent_config(i)
            counts, source = training_counts(sub.flow, sub.window, traffic_dir, seed)
            solutions[i], seconds = timed_solve(counts, sub)
            facts[i] = {"solved_from": source, "seconds": round(seconds, 3)}
    policies = [
        (mdp_act, slice_policy_params(config, solutions, j)) for j in range(len(config.sub_agents))
    ]
    if noise > 0:
        scale = jnp.float32(noise * config.budget / config.num_users)
        policies = [(noisy_mdp_act, NoisyMDPParams(p, scale)) for _, p in policies]
    facts = {"sub_agents": {str(i): f for i, f in facts.items()}, "behaviour_noise": noise}
    return policies, facts
