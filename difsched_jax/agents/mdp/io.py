"""Train counts for a sub-agent, and solved sub-agents on disk.

Layout of an agent folder (flat, like the reference's ``data/reference``):

    DIR/mdp_subagent{i}.npz   aggregation_map, policy, value, action_table
    DIR/mdp_subagent{i}.json  config, traffic, solver facts (sweeps, cut points, ...)

`load_subagent` also reads the reference's ``seed_mdp_subagent{i}.npz``, so a
folder of reference solutions works wherever an agent folder does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from difsched_jax.agents.mdp.solve import timed_solve
from difsched_jax.config import SubAgentConfig, get_subagent_config
from difsched_jax.files import read_json, read_npz
from difsched_jax.traffic import get_trace, trace_filename
from difsched_jax.traffic.trace import source_key, validate_counts

NPZ_KEYS = ("aggregation_map", "policy", "value", "action_table")
PREFIXES = ("mdp_subagent", "seed_mdp_subagent")  # ours first, then the reference's


def training_counts(
    flow: str, window: int = 200, traffic_dir: str | os.PathLike | None = None, seed: int = 0
) -> tuple[np.ndarray, str]:
    """(T,) count series the transition matrix is built from, and where it came from.

    The reference builds M from ``trafficSource_train_actual`` (the actual counts
    one window earlier, i.e. the train series with its first entry from before
    the split). It differs from the target series by two transitions, enough to
    move V by 5e-5, so a real trace file is read at that key when it has it.
    Synthetic traffic (no folder): the train actual counts.
    """
    if traffic_dir is None:
        return get_trace(flow, window, None, seed).train_actual, f"synthetic:{flow}:seed{seed}"
    path = os.path.join(os.fspath(traffic_dir), trace_filename(flow, window))
    key = source_key("train")
    if os.path.exists(path):
        data = read_npz(path, [key])
        if key in data:
            return validate_counts(data[key], window, f"{path} [{key}]"), f"{path}:{key}"
    trace = get_trace(flow, window, traffic_dir)  # raises a clear TraceError if unusable
    return trace.train_actual, f"{path}:trafficTarget_train_actual"


@dataclass
class SavedSubAgent:
    """What an agent file holds (enough to act and to read V)."""

    aggregation_map: np.ndarray  # (L+1,) int64
    policy: np.ndarray  # (S,) int32
    value: np.ndarray  # (S,) float64
    action_table: np.ndarray  # (A, n) float64
    meta: dict  # the JSON next to it ({} when absent)


def subagent_paths(directory: str | os.PathLike, index: int, prefix: str = PREFIXES[0]):
    base = os.path.join(os.fspath(directory), f"{prefix}{index}")
    return base + ".npz", base + ".json"


def save_subagent(
    directory: str | os.PathLike, index: int, solution, meta: dict | None = None
) -> str:
    """Write ``mdp_subagent{index}.npz`` + ``.json`` into a folder; returns the npz path."""
    os.makedirs(directory, exist_ok=True)
    npz_path, json_path = subagent_paths(directory, index)
    arrays = {
        "aggregation_map": np.asarray(solution.aggregation_map, np.int64),
        "policy": np.asarray(solution.policy, np.int32),
        "value": np.asarray(solution.value, np.float64),
        "action_table": np.asarray(solution.action_table, np.float64),
    }
    tmp = npz_path + ".tmp.npz"  # write then rename: never half a file
    np.savez(tmp, **arrays)
    os.replace(tmp, npz_path)
    with open(json_path + ".tmp", "w") as f:
        json.dump(meta or {}, f, indent=2)
    os.replace(json_path + ".tmp", json_path)
    return npz_path


def load_subagent(path: str | os.PathLike) -> SavedSubAgent:
    """Read an agent ``.npz`` (ours or the reference's) and the ``.json`` beside it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such sub-agent file")
    data = read_npz(path)
    missing = [k for k in NPZ_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: missing keys {missing} (has {sorted(data)})")
    arrays = {k: data[k] for k in NPZ_KEYS}
    json_path = os.path.splitext(path)[0] + ".json"
    meta = read_json(json_path) if os.path.exists(json_path) else {}
    if not isinstance(meta, dict):
        raise ValueError(f"{json_path}: expected a JSON object, got {type(meta).__name__}")
    agent = SavedSubAgent(**arrays, meta=meta)
    _check(agent, path)
    return agent


def _check(agent: SavedSubAgent, path: str) -> None:
    s, a = agent.value.shape[0], agent.action_table.shape[0]
    if agent.policy.shape != (s,) or agent.action_table.ndim != 2:
        raise ValueError(
            f"{path}: policy {agent.policy.shape} / value {agent.value.shape} mismatch"
        )
    if agent.policy.min() < 0 or agent.policy.max() >= a:
        raise ValueError(f"{path}: policy holds action rows outside [0, {a})")
    bins = int(agent.aggregation_map.max()) + 1
    if agent.aggregation_map.min() < 0 or bins ** agent.action_table.shape[1] != s:
        raise ValueError(f"{path}: aggregation map with {bins} bins does not give {s} joint states")


def find_subagent(directory: str | os.PathLike, index: int) -> str:
    """Path of sub-agent ``index`` in a folder (ours, else the reference's name)."""
    for prefix in PREFIXES:
        npz_path, _ = subagent_paths(directory, index, prefix)
        if os.path.exists(npz_path):
            return npz_path
    raise ValueError(
        f"no sub-agent {index} in {os.fspath(directory)!r} (looked for "
        f"{', '.join(p + str(index) + '.npz' for p in PREFIXES)}); make one with "
        f"`difsched build-agent --subagent-config {index} --out {os.fspath(directory)}"
        f" [--traffic-dir DIR]`"
    )


def load_subagents(directory: str | os.PathLike, indices) -> dict[int, SavedSubAgent]:
    return {i: load_subagent(find_subagent(directory, i)) for i in sorted(set(indices))}


def subagent_meta(index: int, config: SubAgentConfig, solution, source: str, seconds: float):
    """The JSON written beside a solved agent."""
    return {
        "subagent_config": index,
        "config": config.to_dict(),
        "traffic": source,
        "cut_points": np.asarray(solution.cut_points).tolist(),
        "representative_counts": np.asarray(solution.representatives).tolist(),
        "sweeps": solution.sweeps,
        "last_change": solution.last_change,
        "solve_seconds": seconds,
        "n_states": int(solution.value.shape[0]),
        "n_actions": int(solution.action_table.shape[0]),
    }


def build_subagent(
    index: int,
    out_dir: str | os.PathLike,
    traffic_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> tuple[str, dict]:
    """Solve sub-agent config ``index`` on its flow's train counts and save it.

    Returns (npz path, the JSON written beside it)."""
    config = get_subagent_config(index)
    counts, source = training_counts(config.flow, config.window, traffic_dir, seed)
    solution, seconds = timed_solve(counts, config)
    meta = subagent_meta(index, config, solution, source, seconds)
    return save_subagent(out_dir, index, solution, meta), meta
