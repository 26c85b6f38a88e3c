"""Stage 5: the figures and tables of the study, from what 03 and 04 wrote.

    python experiments/05_figures.py [--experiments 0 1 2 3]

figures/summary.png          mean loss per policy, grouped by experiment
figures/exp{I}_alloc.png     allocation vs observed count, one panel per policy
figures/exp{I}_training.png  validation loss per episode, with and without BC
figures/results.md           the tables (mean ± 95 % interval)
"""

from __future__ import annotations

import json
import os

import _common
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from difsched_jax.config import get_env_config
from difsched_jax.evaluate.report import plot_allocations, plot_experiment_summary, results_table


def training_figure(out: str, exp: int, path: str) -> str | None:
    """Validation (and greedy-rollout) loss per episode of the runs 03 trained."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    found = False
    for k, variant in enumerate(_common.VARIANTS):
        metrics = os.path.join(_common.run_dir(out, exp, variant), "metrics.jsonl")
        if not os.path.exists(metrics):
            continue
        with open(metrics) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        val = [(r["episode"], r["val_loss"]) for r in rows if "val_loss" in r]
        if val:
            ax.plot(*zip(*val), marker="o", color=f"C{k}", label=f"{variant}: validation")
        episodes = [r["episode"] for r in rows]
        explore = [r["explore_loss"] for r in rows]
        ax.plot(episodes, explore, color=f"C{k}", alpha=0.4, label=f"{variant}: exploration")
        found = True
    if not found:
        return None
    ax.set_xlabel("episode")
    ax.set_ylabel("packet-loss rate")
    ax.set_title(f"Diffusion-QL training, experiment {exp}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def load_allocations(path: str) -> list[tuple[str, dict]]:
    with np.load(path, allow_pickle=False) as d:
        n = len({k.split("/")[0] for k in d.files})
        return [
            (str(d[f"{i}/label"]), {k: d[f"{i}/{k}"] for k in ("observed", "action", "granted")})
            for i in range(n)
        ]


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    _common.add_experiments(p)
    args = p.parse_args(argv)
    results = _common.results_dir(args.out)
    figures = os.path.join(args.out, "figures")
    os.makedirs(figures, exist_ok=True)
    groups, tables = [], []
    for exp in args.experiments:
        path = os.path.join(results, f"exp{exp}.json")
        if not os.path.exists(path):
            print(f"experiment {exp}: no {path} (run 04_evaluate.py first), skipped")
            continue
        with open(path) as f:
            payload = json.load(f)
        cfg = payload["config"]
        title = f"exp {exp}: {cfg['num_users']} users, B={cfg['budget']}, {cfg['flow']}"
        groups.append((title, payload["results"]))
        tables += [f"## {title}", "", results_table(payload["results"]), ""]
        budget = get_env_config(payload["env_config"]).budget
        alloc = load_allocations(os.path.join(results, f"exp{exp}_alloc.npz"))
        written = [
            plot_allocations(alloc, os.path.join(figures, f"exp{exp}_alloc.png"), budget, title),
            training_figure(args.out, exp, os.path.join(figures, f"exp{exp}_training.png")),
        ]
        print("\n".join(w for w in written if w))
    if groups:
        print(plot_experiment_summary(groups, os.path.join(figures, "summary.png")))
        with open(os.path.join(figures, "results.md"), "w") as f:
            f.write("\n".join(tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
