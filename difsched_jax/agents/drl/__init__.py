"""Online deep-RL baselines: PPO (`ppo`) and SAC (`sac`) with a shared actor (`policy`).

The names below are imported on first use; the trainer is `difsched_jax.train.train_drl`.
"""

from difsched_jax._lazy import lazy_exports

_EXPORTS = {
    "ActorSpec": "difsched_jax.agents.drl.policy",
    "DeterministicPolicy": "difsched_jax.agents.drl.policy",
    "policy_params": "difsched_jax.agents.drl.policy",
    "PPOConfig": "difsched_jax.agents.drl.ppo",
    "PPOState": "difsched_jax.agents.drl.ppo",
    "SACConfig": "difsched_jax.agents.drl.sac",
    "SACState": "difsched_jax.agents.drl.sac",
    "ARCHS": "difsched_jax.agents.drl.networks",
    "SQUASHES": "difsched_jax.agents.drl.distributions",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
