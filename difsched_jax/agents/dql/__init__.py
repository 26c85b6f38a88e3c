"""Diffusion Q-learning agent (SPEC §5): networks, schedule, samplers, agent, policy."""

from difsched_jax.agents.dql.agent import (
    ACT_METHODS,
    RANKING_CRITICS,
    DQLAgent,
    act,
    candidate_sources,
    critic_target,
    init_agent,
    lr_schedule,
    make_optimizer,
    ranking_critic,
    update,
    update_with_target,
)
from difsched_jax.agents.dql.chunked import update_many
from difsched_jax.agents.dql.config import DQLConfig
from difsched_jax.agents.dql.policy import DQLPolicyParams, dql_policy, policy_params
from difsched_jax.agents.dql.replay import (
    Batch,
    ReplayBuffer,
    batch_from_env,
    replay_add,
    replay_from_batch,
    replay_init,
    replay_sample,
    replay_sample_mixed,
)
from difsched_jax.agents.dql.sampling import ddim_sample, ddpm_sample
from difsched_jax.agents.dql.schedule import make_schedule, timestep_embedding, vp_betas

__all__ = [
    "ACT_METHODS",
    "RANKING_CRITICS",
    "Batch",
    "DQLAgent",
    "DQLConfig",
    "DQLPolicyParams",
    "ReplayBuffer",
    "act",
    "batch_from_env",
    "candidate_sources",
    "ddim_sample",
    "ddpm_sample",
    "dql_policy",
    "init_agent",
    "lr_schedule",
    "make_optimizer",
    "make_schedule",
    "policy_params",
    "ranking_critic",
    "replay_add",
    "replay_from_batch",
    "replay_init",
    "replay_sample",
    "replay_sample_mixed",
    "timestep_embedding",
    "critic_target",
    "update",
    "update_many",
    "update_with_target",
    "vp_betas",
]
