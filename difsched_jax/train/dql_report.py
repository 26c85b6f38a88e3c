"""Training curves of a Diffusion-QL run (from its metrics rows)."""

from __future__ import annotations

import math


def plot_curves(rows: list[dict], path: str, title: str, baselines: dict | None = None) -> str:
    """Left: critic / BC / actor losses per episode; right: packet loss of the
    exploration, greedy (train split) and validation rollouts, with the
    validation-slice baselines (equal share, oracle) as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from difsched_jax.files import save_figure_atomic

    ep = [r["episode"] for r in rows]
    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(11, 4))
    ax_l.plot(ep, [r["critic_loss"] for r in rows], label="critic loss")
    ax_l.plot(ep, [r["bc_loss"] for r in rows], label="BC loss (noise MSE)")
    ax_l.plot(ep, [abs(r["q_lcb"]) for r in rows], label="|Q LCB|")
    ax_l.set_yscale("log")
    ax_l.set_xlabel("episode")
    ax_l.set_title("update metrics (episode means)")
    ax_l.legend(fontsize=8)
    explore = [r["explore_loss"] for r in rows]
    if any(math.isfinite(x) for x in explore):  # NaN throughout when offline only
        ax_r.plot(ep, explore, label="exploration (EAS), train split")
    if any("greedy_loss" in r for r in rows):
        ax_r.plot(ep, [r["greedy_loss"] for r in rows], label="greedy, train split")
    val = [(r["episode"], r["val_loss"]) for r in rows if "val_loss" in r]
    if val:
        ax_r.plot(*zip(*val), marker="o", label="greedy, validation")
    for key, label in (
        ("val_loss_actor", "actor alone (1 sample)"),
        ("val_loss_argmax", "critic argmax alone"),
    ):
        pts = [(r["episode"], r[key]) for r in rows if key in r]
        if pts:
            ax_r.plot(*zip(*pts), marker=".", ls="--", label=f"{label}, validation")
    for (name, v), style in zip((baselines or {}).items(), ("--", ":")):
        ax_r.axhline(v, color="gray", ls=style, label=f"{name} (validation)")
    ax_r.set_xlabel("episode")
    ax_r.set_ylabel("packet-loss rate")
    ax_r.set_title("rollouts")
    ax_r.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)
    plt.close(fig)
    return path
