"""Evaluate one policy on the test split and keep what the report needs: the
losses (for the table, bar chart and histogram) and the allocations it chose
against the counts it observed (for the allocation plots), from the same rollout.

Same key, environment and sizes as `evaluate.compare.compare_policies`, so the
numbers equal `difsched evaluate`'s for the same settings.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from difsched_jax.config import SliceConfig
from difsched_jax.env import make_env, rollout
from difsched_jax.evaluate.compare import PolicyRow
from difsched_jax.evaluate.core import EvalResult, oracle_gap
from difsched_jax.evaluate.registry import EvalContext, resolve_policy
from difsched_jax.evaluate.stats import mean_ci95
from difsched_jax.files import DamagedFile, read_npz
from difsched_jax.traffic.trace import Trace

MAX_STORED_POINTS = 20_000  # (observed count, allocation) pairs kept per policy


def evaluate_with_allocations(
    name: str,
    config: SliceConfig,
    trace: Trace,
    *,
    num_slices: int,
    num_windows: int,
    episode_len: int,
    seed: int,
    split: str = "test",
    obs: str = "predicted",
) -> tuple[PolicyRow, dict]:
    """(row, samples): samples holds a random subset of the (user, window) pairs:
    ``observed`` count, requested allocation ``action`` and ``granted`` one."""
    policy = resolve_policy(name, config, EvalContext(trace, split, obs))
    mode = policy.obs or obs
    spec, params = make_env(config, trace, split, mode, episode_len)
    key = jax.random.key(seed)
    record = rollout(policy.act, policy.params, params, spec, key, num_slices, num_windows)
    losses = np.asarray(record.loss, dtype=np.float64)  # (T, S)
    slice_means = losses.mean(axis=0)
    mean, half = mean_ci95(slice_means)
    gap = oracle_gap(record, params)
    result = EvalResult(
        mean, half, slice_means, losses, float(np.asarray(record.empty).mean()), gap
    )
    flat = {
        "observed": np.asarray(record.obs).ravel(),
        "action": np.asarray(record.action, dtype=np.float32).ravel(),
        "granted": np.asarray(record.granted, dtype=np.float32).ravel(),
    }
    n = flat["observed"].size
    if n > MAX_STORED_POINTS:  # a fixed subset: the same pairs for every policy
        keep = np.random.default_rng(0).choice(n, MAX_STORED_POINTS, replace=False)
        flat = {k: v[keep] for k, v in flat.items()}
    return PolicyRow(name, mode, result), flat


def save_policy_result(path: str, row: PolicyRow, samples: dict) -> None:
    """One policy's figures as .npz, written through a temporary name."""
    r = row.result
    tmp = path + ".tmp.npz"
    np.savez(
        tmp,
        name=row.name,
        obs=row.obs,
        mean_loss=r.mean_loss,
        ci95=r.ci95,
        slice_means=r.slice_means,
        window_losses=r.window_losses,
        empty_fraction=r.empty_fraction,
        oracle_gap=np.nan if r.oracle_gap is None else r.oracle_gap,
        **samples,
    )
    os.replace(tmp, path)


def load_policy_result(path: str) -> tuple[PolicyRow, dict]:
    """What `save_policy_result` wrote; DamagedFile when it cannot be read whole."""
    d = read_npz(path)
    try:
        result = EvalResult(
            mean_loss=float(d["mean_loss"]),
            ci95=float(d["ci95"]),
            slice_means=d["slice_means"],
            window_losses=d["window_losses"],
            empty_fraction=float(d["empty_fraction"]),
            oracle_gap=float(d["oracle_gap"]) if "oracle_gap" in d else None,
        )
        samples = {k: d[k] for k in ("observed", "action", "granted")}
        return PolicyRow(str(d["name"]), str(d["obs"]), result), samples
    except (KeyError, TypeError, ValueError) as e:
        raise DamagedFile(f"{path}: not a policy result, damaged ({e})") from e
