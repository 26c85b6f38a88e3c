"""difsched_jax: radio-resource scheduling with offline RL and diffusion policies, in JAX.

The main entry points, imported on first use (``import difsched_jax`` loads no JAX):
configs (`get_env_config`, ...), traffic (`load_trace`, `get_trace`), the environment
(`make_env_for`, `make_env`, `rollout`, `run_windows`), policies (`equal_share`, ..., `mdp_act`, `dql_policy`),
offline datasets (`generate_dataset`, `load_dataset`), training (`train_dql`,
`train_drl`), evaluation (`evaluate_policy`, `compare_policies`) and the pipeline
(`run_pipeline`). Each subpackage exports its own in its ``__all__``.
"""

from difsched_jax._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    # configs (SPEC §2)
    "DatasetConfig": "difsched_jax.config",
    "EnvConfig": "difsched_jax.config",
    "ExperimentConfig": "difsched_jax.config",
    "SubAgentConfig": "difsched_jax.config",
    "get_dataset_config": "difsched_jax.config",
    "get_env_config": "difsched_jax.config",
    "get_experiment_config": "difsched_jax.config",
    "get_subagent_config": "difsched_jax.config",
    # traffic
    "Trace": "difsched_jax.traffic",
    "get_trace": "difsched_jax.traffic",
    "load_trace": "difsched_jax.traffic",
    "load_flow_trace": "difsched_jax.traffic",
    "synthetic_trace": "difsched_jax.traffic",
    # environment
    "EnvParams": "difsched_jax.env",
    "EnvSpec": "difsched_jax.env",
    "make_env": "difsched_jax.env",
    "make_env_for": "difsched_jax.env",
    "reset": "difsched_jax.env",
    "rollout": "difsched_jax.env",
    "run_windows": "difsched_jax.env",
    "step": "difsched_jax.env",
    # policies: act(policy_params, key, obs) -> r
    "build_subagent": "difsched_jax.agents",
    "dql_policy": "difsched_jax.agents",
    "equal_share": "difsched_jax.agents",
    "heuristic_params": "difsched_jax.agents",
    "load_subagents": "difsched_jax.agents",
    "mdp_act": "difsched_jax.agents",
    "mdp_policy_params": "difsched_jax.agents",
    "oracle": "difsched_jax.agents",
    "oracle_params": "difsched_jax.agents",
    "proportional": "difsched_jax.agents",
    "random_policy": "difsched_jax.agents",
    # offline datasets
    "generate_dataset": "difsched_jax.data",
    "load_dataset": "difsched_jax.data",
    # training
    "load_dql_policy": "difsched_jax.train",
    "load_drl_policy": "difsched_jax.train",
    "make_dql_run_config": "difsched_jax.train",
    "make_drl_run_config": "difsched_jax.train",
    "train_dql": "difsched_jax.train",
    "train_drl": "difsched_jax.train",
    # evaluation
    "compare_policies": "difsched_jax.evaluate",
    "evaluate_policy": "difsched_jax.evaluate",
    "format_table": "difsched_jax.evaluate",
    "mean_ci95": "difsched_jax.evaluate",
    "resolve_policy": "difsched_jax.evaluate",
    # the whole job
    "get_preset": "difsched_jax.pipeline",
    "run_pipeline": "difsched_jax.pipeline",
}

__all__ = ["__version__", *sorted(_EXPORTS)]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
