"""Policies behind one interface: act(policy_params, key, obs) -> r.

Heuristics and the oracle (`heuristics`), MDP sub-agents (`mdp`), Diffusion-QL
(`dql`) and PPO/SAC (`drl`); the names below are imported on first use.
"""

from difsched_jax._lazy import lazy_exports

_H = "difsched_jax.agents.heuristics"
_EXPORTS = {
    "HeuristicParams": _H,
    "OracleParams": _H,
    "equal_share": _H,
    "heuristic_params": _H,
    "oracle": _H,
    "oracle_allocation": _H,
    "oracle_params": _H,
    "proportional": _H,
    "random_policy": _H,
    "MDPPolicyParams": "difsched_jax.agents.mdp",
    "build_subagent": "difsched_jax.agents.mdp",
    "load_subagents": "difsched_jax.agents.mdp",
    "mdp_act": "difsched_jax.agents.mdp",
    "mdp_policy_params": "difsched_jax.agents.mdp",
    "DQLConfig": "difsched_jax.agents.dql",
    "DQLPolicyParams": "difsched_jax.agents.dql",
    "dql_policy": "difsched_jax.agents.dql",
    "DeterministicPolicy": "difsched_jax.agents.drl",
    "PPOConfig": "difsched_jax.agents.drl",
    "SACConfig": "difsched_jax.agents.drl",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
