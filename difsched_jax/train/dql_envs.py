"""Environments and rollouts of the Diffusion-QL trainer (SPEC §5, with our corrections).

Interaction uses the TRAIN split only: the first (1 − val_fraction) of the train
series is the environment the agent explores (many slices per rollout), the
last val_fraction is a separate environment used only to select the best model.
The test split is touched only by the final report (`difsched evaluate`).
Rollout records carry the true successor observation (`next_obs`, taken before
any auto-reset), never s' = s as the reference's online data did.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from difsched_jax.agents import heuristics
from difsched_jax.agents.dql import (
    DQLAgent,
    DQLPolicyParams,
    batch_from_env,
    dql_policy,
    policy_params,
)
from difsched_jax.config import SliceConfig
from difsched_jax.env import EnvParams, RolloutCarry, rollout, run_windows


def acting_params(
    agent: DQLAgent,
    rank_critic: str,
    num_candidates: int,
    method: str = "greedy",
    eta=1.0,
    argmax: bool | None = None,
) -> DQLPolicyParams:
    """Policy params whose candidates are ranked by the online critic (default) or the
    EMA target (the reference's choice, which barely moves in a short run)."""
    return policy_params(agent, num_candidates, eta, method, critic=rank_critic, argmax=argmax)


@struct.dataclass
class ExploreParams:
    policy: DQLPolicyParams  # method "eas"
    eta_low: jax.Array  # () η ~ U(eta_low, eta_high), drawn per decision
    eta_high: jax.Array


def explore_policy(params: ExploreParams, key, obs_counts):
    """EAS with a fresh DDIM η per decision (diverse candidates across slices)."""
    k_eta, k_act = jax.random.split(key)
    eta = jax.random.uniform(k_eta, (), jnp.float32, params.eta_low, params.eta_high)
    return dql_policy(params.policy.replace(eta=eta), k_act, obs_counts)


@partial(jax.jit, static_argnames=("policy", "spec", "num_windows", "executed"))
def collect(
    policy,
    policy_params,
    params: EnvParams,
    spec,
    carry: RolloutCarry,
    num_windows: int,
    executed: bool = True,
):
    """Advance the slices of `carry` by `num_windows`: (carry, agent Batch (W·S rows),
    mean loss). Rows are window-major; actions are the executed (granted) allocations,
    or the requested ones with executed=False."""
    carry, rec = run_windows(policy, policy_params, params, spec, carry, num_windows)
    r = rec.granted if executed else rec.action
    batch = batch_from_env(
        rec.obs, r, rec.reward, rec.next_obs, rec.done, spec.window, params.budget
    )
    return carry, batch, rec.loss.mean()


def mean_loss(policy, policy_params, params, spec, key, num_slices: int, num_windows: int) -> float:
    """Mean packet loss of a policy over fresh slices (fixed key: common random numbers)."""
    rec = rollout(policy, policy_params, params, spec, key, num_slices, num_windows)
    return float(np.asarray(rec.loss, np.float64).mean())


def baseline_losses(config: SliceConfig, params, spec, key, num_slices, num_windows) -> dict:
    """Equal share and the myopic oracle on the same slices (context for curves)."""
    k, s = zip(*config.sigmoid_pairs)
    return {
        "equal": mean_loss(
            heuristics.equal_share,
            heuristics.heuristic_params(config.budget),
            params,
            spec,
            key,
            num_slices,
            num_windows,
        ),
        "oracle": mean_loss(
            heuristics.oracle,
            heuristics.oracle_params(config.budget, k, s),
            params,
            spec,
            key,
            num_slices,
            num_windows,
        ),
    }
