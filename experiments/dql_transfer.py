"""Generalisation of Diffusion-QL across traffic: trained on one, tested on the other.

Takes the run folders of two `dql_table.py` outputs, one trained on the
synthetic default and one on real traces, and evaluates every run's best
checkpoint on the TEST split of BOTH traffics, beside equal share and the oracle
of each (same slices, same key). A cell is the mean over the seeds ± the 95 %
t-interval over seeds.

    python experiments/dql_transfer.py --synthetic runs/dql_syn --real runs/dql_real \\
        --traffic-dir ../shared/data/traffic --out runs/dql_transfer [--tag default]

Writes OUT/transfer_TAG.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from difsched_jax.config import get_env_config, get_experiment_config
from difsched_jax.evaluate.compare import compare_policies, eval_trace
from difsched_jax.evaluate.stats import mean_ci95


def runs_of(folder: str, tag: str, exp: int, variant: str) -> list[str]:
    """Finished run folders of one experiment and variant, by seed."""
    root = os.path.join(folder, "runs")
    prefix = f"{tag}_e{exp}_{variant}_s"
    names = (
        sorted(n for n in os.listdir(root) if n.startswith(prefix)) if os.path.isdir(root) else []
    )
    return [
        os.path.join(root, n)
        for n in names
        if os.path.exists(os.path.join(root, n, "summary.json"))
    ]


def evaluate(exp: int, traffic_dir, runs: dict, slices: int, windows: int) -> dict:
    """Test-split losses on one traffic of equal, oracle and every run, by trained-on."""
    config = get_env_config(get_experiment_config(exp).env)
    trace = eval_trace(config, traffic_dir, "reference", 0)
    flat = [r for rs in runs.values() for r in rs]
    names = ["equal", "oracle"] + [f"dql:{r}" for r in flat]
    rows = compare_policies(names, config, trace, num_slices=slices, num_windows=windows)
    loss = {n: row.result.mean_loss for n, row in zip(names, rows)}
    out = {"equal": loss["equal"], "oracle": loss["oracle"]}
    for trained_on, rs in runs.items():
        seeds = [loss[f"dql:{r}"] for r in rs]
        out[trained_on] = (*mean_ci95(seeds), seeds) if seeds else None
    return out


def table(results: dict) -> str:
    lines = [
        "| experiment | tested on | equal share | oracle (pred.) | DQL trained on synthetic "
        "| DQL trained on real |",
        "|---|---|---|---|---|---|",
    ]
    for exp, by_test in results.items():
        for tested_on, res in by_test.items():
            cells = [f"{res['equal']:.3f}", f"{res['oracle']:.3f}"]
            for trained_on in ("synthetic", "real"):
                v = res.get(trained_on)
                cells.append("–" if v is None else f"{v[0]:.3f} ± {v[1]:.3f} (n={len(v[2])})")
            lines.append(f"| {exp} | {tested_on} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--synthetic", required=True, help="dql_table.py --out of synthetic runs")
    p.add_argument("--real", required=True, help="dql_table.py --out of real-trace runs")
    p.add_argument("--traffic-dir", required=True, help="the real traces")
    p.add_argument("--out", required=True)
    p.add_argument("--exps", default="0,1,2,3")
    p.add_argument("--tag", default="default", help="the dql_table.py tag of both")
    p.add_argument("--variant", default="nobc")
    p.add_argument("--eval-slices", type=int, default=40)
    p.add_argument("--eval-windows", type=int, default=100)
    args = p.parse_args(argv)
    results = {}
    for exp in (int(x) for x in args.exps.split(",")):
        runs = {
            "synthetic": runs_of(args.synthetic, args.tag, exp, args.variant),
            "real": runs_of(args.real, args.tag, exp, args.variant),
        }
        if not any(runs.values()):
            raise SystemExit(
                f"no finished {args.variant} runs of experiment {exp} in either folder"
            )
        results[str(exp)] = {
            tested: evaluate(exp, tdir, runs, args.eval_slices, args.eval_windows)
            for tested, tdir in (("synthetic", None), ("real", args.traffic_dir))
        }
    text = table(results)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    payload = {"tag": args.tag, "variant": args.variant, "results": results,
               "eval": f"test split, predicted observation, {args.eval_slices} slices × "
               f"{args.eval_windows} windows, seed 0"}  # fmt: skip
    with open(os.path.join(args.out, f"transfer_{args.tag}.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, f"transfer_{args.tag}.json"), "w") as f:
        json.dump(payload, f, indent=2, default=float)
    return payload


if __name__ == "__main__":
    run(sys.argv[1:])
    sys.exit(0)
