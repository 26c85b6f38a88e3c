"""Default homes of what the project makes when no --out is given: under ``data/``.

The root is ``$DIFSCHED_DATA`` when set, else ``data`` (relative to the working
directory: the repository root, where ``data/README.md`` describes the layout).
The layout follows the reference's: ``processed/{traffic,offline_dataset}`` for
inputs made from traces, ``results/{MdpPolicy,dql,drl}`` for solved or trained
policies, plus ``results/pipeline`` for `difsched pipeline` runs.
"""

from __future__ import annotations

import os

ENV_VAR = "DIFSCHED_DATA"


def data_root() -> str:
    return os.environ.get(ENV_VAR) or "data"


def traffic_dir() -> str:
    """Synthesised (or converted) traces, {flow}_window{L}.npz, ready for --traffic-dir."""
    return os.path.join(data_root(), "processed", "traffic")


def dataset_dir(dataset_config: int, slices: int, windows: int, seed: int) -> str:
    name = f"offline_dataset{dataset_config}_S{slices}_T{windows}_seed{seed}"
    return os.path.join(data_root(), "processed", "offline_dataset", name)


def agents_dir() -> str:
    """Solved MDP sub-agents (mdp_subagent{i}.npz + .json)."""
    return os.path.join(data_root(), "results", "MdpPolicy")


def dql_run_dir(exp_config: int, bc: bool, seed: int) -> str:
    name = f"exp{exp_config}_{'bc' if bc else 'nobc'}_s{seed}"
    return os.path.join(data_root(), "results", "dql", name)


def drl_run_dir(algo: str, env_config: int, seed: int) -> str:
    return os.path.join(data_root(), "results", "drl", f"{algo}_env{env_config}_s{seed}")


def pipeline_dir(preset: str) -> str:
    """One `difsched pipeline` run: its content-addressed stage folders inside."""
    return os.path.join(data_root(), "results", "pipeline", preset)
