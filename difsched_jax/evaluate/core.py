"""Evaluate any policy over many independent slices x windows in one jitted rollout."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.env import EnvParams, EnvSpec, rollout
from difsched_jax.evaluate.stats import mean_ci95


@dataclass
class EvalResult:
    mean_loss: float
    ci95: float  # half-width of the 95 % interval over independent slices
    slice_means: np.ndarray  # (S,) mean loss per slice
    window_losses: np.ndarray  # (T, S) per-window loss
    empty_fraction: float  # share of windows in which nobody sent
    # mean |r_i − r*_i| in resource blocks per user and decision, r* the oracle's
    # allocation for the same observation (executed allocations; None: not computed)
    oracle_gap: float | None = None

    def summary(self) -> dict:
        return {
            "mean_loss": self.mean_loss,
            "ci95": self.ci95,
            "oracle_gap": self.oracle_gap,
            "slices": int(self.window_losses.shape[1]),
            "windows": int(self.window_losses.shape[0]),
            "empty_fraction": self.empty_fraction,
            # per-window loss distribution (all slices x windows)
            "window_loss_quantiles": {
                f"p{q}": float(np.percentile(self.window_losses, q)) for q in (5, 25, 50, 75, 95)
            },
            "window_loss_std": float(self.window_losses.std()),
        }


LARGE_ORACLE_GAP = 1e11  # operations: about a minute on a 2-core CPU


def oracle_gap_cost(users: int, budget: int, decisions: int) -> float:
    """Operations the oracle gap needs: N·(B + 1)² per decision."""
    return float(decisions) * users * (budget + 1) ** 2


def _check_finite(policy, actions) -> None:
    bad = ~np.isfinite(np.asarray(actions))
    if bad.any():
        from difsched_jax.env.rollout import policy_name

        raise ValueError(
            f"policy {policy_name(policy)} returned non-finite allocations (NaN or inf) in "
            f"{int(bad.any(axis=-1).sum())} of {bad[..., 0].size} decisions"
        )


def oracle_gap(record, params: EnvParams) -> float:
    """Decision shape as a number: the mean absolute difference, in resource blocks,
    between the executed allocation of `record` (leading axes (T, S)) and the exact
    oracle's allocation for the same observations, per user and decision."""
    from difsched_jax.agents import heuristics

    budget = int(params.budget)
    gain = heuristics.oracle_params(
        budget, np.asarray(params.sigmoid_k), np.asarray(params.sigmoid_s)
    ).gain
    obs = jnp.asarray(record.obs).reshape(-1, record.obs.shape[-1])  # (T·S, N)
    best = np.asarray(jax.vmap(heuristics.oracle, in_axes=(None, None, 0))(
        heuristics.OracleParams(gain=gain), jax.random.key(0), obs
    ))  # fmt: skip
    granted = np.asarray(record.granted, np.float64).reshape(best.shape)
    return float(np.abs(granted - best).mean())


def evaluate_policy(
    policy,
    policy_params,
    params: EnvParams,
    spec: EnvSpec,
    key: jax.Array,
    num_slices: int = 64,
    num_windows: int = 1000,
    with_oracle_gap: bool = True,
) -> EvalResult:
    """Run `num_slices` independent slices for `num_windows` windows each.

    Each slice starts at random cursors (episodes of ``spec.episode_len``).
    The interval is over slices (independent), not windows (correlated).
    The oracle gap solves the oracle's DP once per decision: about N·B² operations
    each, slices × windows of them (`oracle_gap_cost`); `with_oracle_gap=False` skips
    it (EvalResult.oracle_gap None), and a warning says so when it would be large.
    A policy that returns NaN or infinite allocations is an error naming it.
    """
    if num_slices < 2:
        raise ValueError(f"need at least 2 slices for an interval, got {num_slices}")
    if num_windows < 1:
        raise ValueError(f"need at least 1 window per slice, got {num_windows}")
    split_len = int(params.actual.shape[0])
    if num_windows > split_len:
        warnings.warn(
            f"{num_windows} windows per slice read the evaluated split ({split_len} windows) "
            "more than once: each user's cursor wraps around to its start",
            stacklevel=2,
        )
    record = rollout(policy, policy_params, params, spec, key, num_slices, num_windows)
    _check_finite(policy, record.action)
    gap = None
    if with_oracle_gap:
        users, budget = record.obs.shape[-1], int(params.budget)
        cost = oracle_gap_cost(users, budget, num_slices * num_windows)
        if cost > LARGE_ORACLE_GAP:
            warnings.warn(
                f"the oracle gap costs about {cost:.1e} operations (N·B² per decision, "
                f"N = {users}, B = {budget}); "
                "evaluate_policy(..., with_oracle_gap=False) skips it",
                stacklevel=2,
            )
        gap = oracle_gap(record, params)
    losses = np.asarray(record.loss, dtype=np.float64)  # (T, S)
    slice_means = losses.mean(axis=0)
    mean, half = mean_ci95(slice_means)
    return EvalResult(
        mean_loss=mean,
        ci95=half,
        slice_means=slice_means,
        window_losses=losses,
        empty_fraction=float(np.asarray(record.empty).mean()),
        oracle_gap=gap,
    )
