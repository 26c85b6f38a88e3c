"""Training loops with Orbax best/latest checkpoints: Diffusion-QL (`dql`) and PPO/SAC (`drl`).

The two trainers' entry points under distinct names, imported on first use.
"""

from difsched_jax._lazy import lazy_exports

_EXPORTS = {
    "DQLRunConfig": "difsched_jax.train.dql_config",
    "load_dql_policy": "difsched_jax.train.dql:load_policy",
    "load_dql_run_config": "difsched_jax.train.dql_config:load_run_config",
    "make_dql_run_config": "difsched_jax.train.dql_config:make_run_config",
    "train_dql": "difsched_jax.train.dql:train",
    "DRLRunConfig": "difsched_jax.train.drl:RunConfig",
    "load_drl_policy": "difsched_jax.train.drl:load_policy",
    "load_drl_run_config": "difsched_jax.train.drl:load_run_config",
    "make_drl_run_config": "difsched_jax.train.drl:make_run_config",
    "train_drl": "difsched_jax.train.drl:train",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
