"""Lookup policies of solved sub-agents, ``act(params, key, obs) -> r`` (SPEC §3 step 7).

A slice policy applies one sub-agent per user group of ``user_map`` to that
group's observed counts and scatters the actions back in user order (the
environment's budget rule then cuts any excess). One group is a slice policy
with a single group, so the same `act` serves both.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from difsched_jax.config import SliceConfig


@struct.dataclass
class MDPPolicyParams:
    """G sub-agents of n users each (all traced arrays: vmaps and jits once)."""

    aggregation_map: jax.Array  # (G, L+1) int32 bin of each count
    state_action: jax.Array  # (G, S, n) float32 action r of each joint state
    place_values: jax.Array  # (n,) int32 K**(n-1-i): joint index, first user most significant
    users: jax.Array  # (G, n) int32 slice users of each group


def _state_actions(solution) -> np.ndarray:
    """(S, n) action row of every joint state."""
    return np.asarray(solution.action_table)[np.asarray(solution.policy)]


def _check_same_shape(solutions) -> tuple[int, int, int]:
    shapes = {
        (np.asarray(s.aggregation_map).shape[0], np.asarray(s.value).shape[0])
        + (np.asarray(s.action_table).shape[1],)
        for s in solutions
    }
    if len(shapes) != 1:
        raise ValueError(f"sub-agents differ in (L+1, states, users): {sorted(shapes)}")
    return shapes.pop()


def mdp_policy_params(solutions: Sequence, user_groups: Sequence[Sequence[int]]) -> MDPPolicyParams:
    """Params of a slice policy: ``solutions[g]`` acts for users ``user_groups[g]``.

    A solution is anything with aggregation_map, policy, value and action_table
    (an `MDPSolution` or a loaded `.npz`)."""
    if len(solutions) != len(user_groups):
        raise ValueError(
            f"need one sub-agent per user group: {len(solutions)} sub-agents, "
            f"{len(user_groups)} groups"
        )
    _, num_states, n = _check_same_shape(solutions)
    for g, group in enumerate(user_groups):
        if len(group) != n:
            raise ValueError(
                f"user group {g} {tuple(group)} has {len(group)} users; the sub-agents act "
                f"for exactly {n}"
            )
    num_bins = int(round(num_states ** (1.0 / n)))
    if num_bins**n != num_states:
        raise ValueError(f"{num_states} joint states is not K**{n} for an integer K")
    return MDPPolicyParams(
        aggregation_map=jnp.asarray(
            np.stack([np.asarray(s.aggregation_map) for s in solutions]), jnp.int32
        ),
        state_action=jnp.asarray(np.stack([_state_actions(s) for s in solutions]), jnp.float32),
        place_values=jnp.asarray(num_bins ** np.arange(n - 1, -1, -1), jnp.int32),
        users=jnp.asarray(np.asarray(user_groups), jnp.int32),
    )


def slice_policy_params(
    config: SliceConfig, solutions_by_index: dict, agent_set: int = 0
) -> MDPPolicyParams:
    """Params for a slice config: set ``agent_set`` of ``config.sub_agents`` names a
    sub-agent config index per group of ``config.user_map``."""
    if not config.sub_agents:
        raise ValueError(f"{type(config).__name__} has no sub_agents to build an MDP policy from")
    if not 0 <= agent_set < len(config.sub_agents):
        raise ValueError(f"agent_set must be in [0, {len(config.sub_agents)}), got {agent_set}")
    indices = config.sub_agents[agent_set]
    missing = sorted(set(indices) - set(solutions_by_index))
    if missing:
        raise ValueError(f"no solved sub-agent for config index(es) {missing}")
    return mdp_policy_params([solutions_by_index[i] for i in indices], config.user_map)


def mdp_act(params: MDPPolicyParams, key: jax.Array, obs: jax.Array) -> jax.Array:
    """(N,) allocation r from (N,) observed counts: counts → bins → joint index → row."""
    del key  # deterministic greedy lookup
    window = params.aggregation_map.shape[1] - 1
    counts = jnp.clip(jnp.floor(obs[params.users]).astype(jnp.int32), 0, window)  # (G, n)
    bins = jnp.take_along_axis(params.aggregation_map, counts, axis=1)  # (G, n)
    joint = bins @ params.place_values  # (G,)
    r = params.state_action[jnp.arange(joint.shape[0]), joint]  # (G, n)
    return jnp.zeros(obs.shape, jnp.float32).at[params.users.ravel()].set(r.ravel())
