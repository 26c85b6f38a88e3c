"""Two-sample Kolmogorov-Smirnov statistic (no SciPy) and a fidelity report against
a reference dataset (SPEC §4 files: observations, actions, losses, next_observations).

Samples of observations are autocorrelated (each slice reads a trace), so the
classical critical value, which assumes independent draws, is far too strict
for them; fidelity uses a fixed threshold on D instead (see `FIDELITY_THRESHOLDS`)
and reports the asymptotic critical value for comparison.
"""

from __future__ import annotations

import math

import numpy as np

# largest accepted KS distance between marginals (pooled over users), and the
# largest accepted difference of mean loss (the issue's +-0.01)
FIDELITY_THRESHOLDS = {"ks_obs": 0.03, "ks_action": 0.03, "mean_loss": 0.01}


def ks_statistic(a, b) -> float:
    """sup_x |F_a(x) - F_b(x)| of the two empirical CDFs (exact, ties handled)."""
    a = np.sort(np.asarray(a, np.float64).ravel())
    b = np.sort(np.asarray(b, np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("KS statistic needs two non-empty samples")
    grid = np.concatenate([a, b])  # the CDFs only jump at sample points
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def ks_critical(n: int, m: int, alpha: float = 0.01) -> float:
    """Asymptotic critical D at level alpha for independent samples of sizes n, m."""
    c = math.sqrt(-0.5 * math.log(alpha / 2.0))
    return c * math.sqrt((n + m) / (n * m))


def compare_to_reference(flat: dict, reference) -> dict:
    """Figures of a generated dataset (``OfflineDataset.flat``) against a reference
    npz (observations, actions, losses). Passing = every figure within its threshold."""
    ref_obs = np.asarray(reference["observations"])
    ref_act = np.asarray(reference["actions"])
    ref_loss = np.asarray(reference["losses"], np.float64)
    loss = np.asarray(flat["loss"], np.float64)
    out = {
        "mean_loss": float(loss.mean()),
        "reference_mean_loss": float(ref_loss.mean()),
        "ks_obs": ks_statistic(flat["obs"], ref_obs),
        "ks_action": ks_statistic(flat["action"], ref_act),
        "ks_critical_iid_1pct": ks_critical(np.asarray(flat["obs"]).size, ref_obs.size),
        "thresholds": FIDELITY_THRESHOLDS,
    }
    out["mean_loss_diff"] = abs(out["mean_loss"] - out["reference_mean_loss"])
    out["passed"] = bool(
        out["mean_loss_diff"] <= FIDELITY_THRESHOLDS["mean_loss"]
        and out["ks_obs"] <= FIDELITY_THRESHOLDS["ks_obs"]
        and out["ks_action"] <= FIDELITY_THRESHOLDS["ks_action"]
    )
    return out
