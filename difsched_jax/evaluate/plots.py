"""Figures of an evaluation: a bar chart with 95 % error bars for a comparison,
a histogram of per-window losses. Uses matplotlib's object API (no pyplot state),
so it never changes the caller's backend."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from difsched_jax.evaluate.compare import PolicyRow
from difsched_jax.files import save_figure_atomic


def _save(fig: Figure, path: str | os.PathLike) -> str:
    return save_figure_atomic(fig, path, dpi=120, bbox_inches="tight")


def _label(row: PolicyRow) -> str:
    # oracle-perfect carries its observation in its name already
    return (
        row.name if row.obs == "predicted" or "perfect" in row.name else f"{row.name} ({row.obs})"
    )


def plot_comparison(rows: list[PolicyRow], path, title: str = "") -> str:
    """Mean packet loss per policy with 95 % interval error bars."""
    means = np.array([r.result.mean_loss for r in rows])
    errs = np.array([r.result.ci95 for r in rows])
    fig = Figure(figsize=(max(4.0, 1.2 * len(rows) + 2.0), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    ax.bar(x, means, yerr=np.nan_to_num(errs), capsize=5, color="tab:blue", alpha=0.8)
    for xi, m, e in zip(x, means, errs):
        ax.annotate(
            f"{m:.3f}",
            (xi, m + np.nan_to_num(e)),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(x, [_label(r) for r in rows], rotation=20, ha="right")
    ax.set_ylabel("mean packet loss (95 % CI)")
    ax.set_ylim(0, max(0.05, float(np.max(means + np.nan_to_num(errs)))) * 1.15)
    ax.set_title(title or "policy comparison")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_loss_histogram(rows: list[PolicyRow], path, title: str = "", bins: int = 50) -> str:
    """Distribution of per-window losses (all slices x windows) of each policy."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    edges = np.linspace(0.0, 1.0, bins + 1)
    for row in rows:
        losses = row.result.window_losses.ravel()
        ax.hist(
            losses,
            bins=edges,
            histtype="step",
            density=True,
            linewidth=1.5,
            label=f"{_label(row)} (mean {row.result.mean_loss:.3f})",
        )
    ax.set_xlabel("packet-loss rate of a window")
    ax.set_ylabel("density")
    ax.set_title(title or "per-window loss distribution")
    ax.legend(fontsize=8)
    return _save(fig, path)
