"""The behaviour policy of a dataset config (SPEC §4): per sub-agent set, the MDP
sub-agents named by the config, one per user group of its user_map.

Sub-agents are solved on the fly from their flow's train counts, or loaded from a
folder written by `difsched build-agent` (the reference's files work too).
"""

from __future__ import annotations

import os

from difsched_jax.agents.mdp import load_subagents, mdp_act, slice_policy_params, training_counts
from difsched_jax.agents.mdp.solve import timed_solve
from difsched_jax.config import SliceConfig, get_subagent_config


def behaviour_policies(
    config: SliceConfig,
    traffic_dir: str | os.PathLike | None = None,
    agents_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> tuple[list[tuple], dict]:
    """([(mdp_act, params) per sub-agent set], facts for meta.json)."""
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
    return policies, {"sub_agents": {str(i): f for i, f in facts.items()}}
