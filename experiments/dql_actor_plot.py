"""Who decides, as a picture: the actor's own samples against the oracle's allocation,
by observed count, on the test split (the same windows for every panel).

Panels: the run's actor alone (one sample, `dql:RUN+actor`), the critic's argmax it was
distilled from (`dql:RUN+argmax`), oracle-calibrated and the oracle on the predicted
counts. Points: one user-window each (requested allocation); lines: binned means of the
requested and granted allocation.

    python experiments/dql_actor_plot.py --run RUN --exp 0 [--traffic-dir DIR] --out FIG.png
"""

from __future__ import annotations

import argparse
import sys

from difsched_jax.config import get_env_config, get_experiment_config
from difsched_jax.evaluate.compare import eval_trace
from difsched_jax.evaluate.report import plot_allocations
from difsched_jax.pipeline.evaluation import evaluate_with_allocations


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="a `difsched train` run folder")
    p.add_argument("--exp", type=int, default=0)
    p.add_argument("--traffic-dir", default=None)
    p.add_argument("--slices", type=int, default=32)
    p.add_argument("--windows", type=int, default=100)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    config = get_env_config(get_experiment_config(args.exp).env)
    trace = eval_trace(config, args.traffic_dir)
    panels = [
        ("Diffusion-QL actor alone (1 sample)", f"dql:{args.run}+actor"),
        ("critic argmax (its teacher)", f"dql:{args.run}+argmax"),
        ("oracle-calibrated", "oracle-calibrated"),
        ("oracle (predicted counts)", "oracle"),
    ]
    samples = []
    for label, name in panels:
        row, s = evaluate_with_allocations(
            name, config, trace, num_slices=args.slices, num_windows=args.windows,
            episode_len=args.windows, seed=0,
        )  # fmt: skip
        samples.append((f"{label}: {row.result.mean_loss:.4f}", s))
        print(f"{label}: {row.result.mean_loss:.4f} ± {row.result.ci95:.4f}", flush=True)
    title = f"experiment {args.exp}: allocation per user vs observed count (test split)"
    return plot_allocations(samples, args.out, config.budget, title, max_points=3000)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
