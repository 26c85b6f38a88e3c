"""MDP sub-agents (SPEC §3): aggregation, cost table, value iteration, lookup policy."""

from difsched_jax.agents.mdp.chain import (
    aggregate_chain,
    aggregation_map,
    entropy_cut_points,
    joint_chain,
    joint_states,
    stationary_distribution,
    transition_matrix,
)
from difsched_jax.agents.mdp.io import (
    build_subagent,
    find_subagent,
    load_subagent,
    load_subagents,
    save_subagent,
    training_counts,
)
from difsched_jax.agents.mdp.policy import (
    MDPPolicyParams,
    mdp_act,
    mdp_policy_params,
    slice_policy_params,
)
from difsched_jax.agents.mdp.solve import (
    MDPSolution,
    action_table,
    cost_table,
    solve_subagent,
    sweep_operator,
    value_iteration,
)

__all__ = [
    "MDPPolicyParams",
    "MDPSolution",
    "action_table",
    "aggregate_chain",
    "aggregation_map",
    "build_subagent",
    "cost_table",
    "entropy_cut_points",
    "find_subagent",
    "joint_chain",
    "joint_states",
    "load_subagent",
    "load_subagents",
    "mdp_act",
    "mdp_policy_params",
    "save_subagent",
    "slice_policy_params",
    "solve_subagent",
    "stationary_distribution",
    "sweep_operator",
    "training_counts",
    "transition_matrix",
    "value_iteration",
]
