"""Diffusion-QL against the size of its offline dataset: test loss vs transitions.

For each experiment and each dataset size (10k, 100k, 1M, 10M transitions: more
slices of 1,000 windows, not longer slices), the noisy MDP behaviour policy of
the experiment's train dataset config (never the oracle) generates the data, one
`difsched train` run per seed learns from it (streamed from the shards into a
device buffer of `offline_capacity` rows), and its best checkpoint is evaluated
on the TEST split beside equal share and the oracle. Every run has the same
training budget, so the figure shows what more data buys at a fixed cost.

    python experiments/dql_scaling.py --out runs/dql_scaling [--traffic-dir DIR]
    python experiments/dql_scaling.py --tiny --out /tmp/s      # smoke test

Writes OUT/scaling_TAG.json and OUT/scaling_TAG.png (one line per experiment,
95 % intervals over seeds; equal share and the oracle as dashed reference lines).
Finished runs are reused and interrupted ones resumed (as dql_table.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dql_table  # noqa: E402  (same folder: datasets, runs and evaluation helpers)

SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
WINDOWS = 1000  # windows per slice; a size is SIZE / WINDOWS slices
TINY_SIZES = (80, 160)  # 2 and 4 slices of 40 windows


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    p.add_argument("--out", required=True, help="folder for datasets, runs and the figure")
    p.add_argument("--exps", default="0,1,2,3")
    p.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="transitions")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variant", default="nobc", choices=sorted(dql_table.VARIANTS))
    p.add_argument("--behaviour-noise", type=float, default=0.5)
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    p.add_argument("--tag", default="default")
    p.add_argument("--eval-slices", type=int, default=40)
    p.add_argument("--eval-windows", type=int, default=100)
    p.add_argument("--tiny", action="store_true", help="tiny budget (tests)")
    p.add_argument("--no-train", action="store_true", help="plot finished runs only")
    return p.parse_args(argv)


def _table_args(args, size: int):
    """The dql_table.py arguments that give this size's dataset and runs."""
    windows = 40 if args.tiny else WINDOWS
    if size % windows:
        raise SystemExit(f"size {size} is not a whole number of {windows}-window slices")
    # dql_table.py's default dataset (100 slices) is its own runs, when they share OUT
    tag = args.tag if size == 100 * windows and not args.tiny else f"{args.tag}_n{size}"
    argv = ["--out", args.out, "--tag", tag, "--seeds", args.seeds]
    argv += ["--data-slices", str(size // windows), "--data-windows", str(windows)]
    argv += ["--behaviour-noise", str(args.behaviour_noise)]
    argv += ["--eval-slices", str(args.eval_slices), "--eval-windows", str(args.eval_windows)]
    argv += ["--tiny"] if args.tiny else []
    argv += ["--traffic-dir", args.traffic_dir] if args.traffic_dir else []
    for item in args.set:
        argv += ["--set", item]
    return dql_table.parse_args(argv)


def plot(payload: dict, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    exps = payload["results"]
    fig = Figure(figsize=(3.4 * len(exps), 3.3))
    FigureCanvasAgg(fig)
    for i, (exp, rows) in enumerate(exps.items()):
        ax = fig.add_subplot(1, len(exps), i + 1)
        sizes = [r["transitions"] for r in rows]
        ax.errorbar(sizes, [r["dql"][0] for r in rows], yerr=[r["dql"][1] for r in rows],
                    marker="o", capsize=3, color="C0", label="Diffusion-QL")  # fmt: skip
        for r in rows:
            ax.plot([r["transitions"]] * len(r["dql"][2]), r["dql"][2], "k.", ms=3)
        ax.axhline(rows[0]["equal"], color="0.5", ls="--", label="equal share")
        ax.axhline(rows[0]["oracle"], color="C2", ls="--", label="oracle (pred. obs)")
        ax.set_xscale("log")
        ax.set_xlabel("offline transitions")
        ax.set_title(f"experiment {exp}", fontsize=9)
        if i == 0:
            ax.set_ylabel("packet loss (test split)")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run(argv=None) -> dict:
    args = parse_args(argv)
    exps = [int(x) for x in args.exps.split(",")]
    sizes = TINY_SIZES if args.tiny else [int(x) for x in args.sizes.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for exp in exps:
        rows = []
        for size in sizes:
            targs = _table_args(args, size)
            agents = dql_table.agents_dir(targs)
            data = None if args.no_train else dql_table.dataset(targs, exp, agents)
            runs = []
            for s in seeds:
                folder = dql_table.run_folder(targs, exp, args.variant, s)
                if args.no_train:
                    if os.path.exists(os.path.join(folder, "summary.json")):
                        runs.append(folder)
                    continue
                t0 = time.perf_counter()
                runs.append(dql_table.train_run(targs, exp, args.variant, s, data))
                print(f"exp {exp}, {size:,} transitions, seed {s}: "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
            if not runs:
                continue
            res = dql_table.evaluate(targs, exp, {args.variant: runs}, agents)
            loss = res[args.variant]
            rows.append({
                "transitions": size,
                "dql": loss,
                "gap": res["gap"][args.variant],
                "equal": res["equal"][0],
                "oracle": res["oracle"][0],
                "behaviour": res["behaviour"][0],
            })  # fmt: skip
            print(f"  test loss {loss[0]:.4f} ± {loss[1]:.4f} (equal {res['equal'][0]:.4f}, "
                  f"oracle {res['oracle'][0]:.4f})", flush=True)  # fmt: skip
        results[str(exp)] = rows
    payload = {
        "tag": args.tag,
        "variant": args.variant,
        "traffic": args.traffic_dir or "synthetic",
        "behaviour": f"noisy MDP sub-agents (noise {args.behaviour_noise:g}·B/N), train split",
        "settings": dict(dql_table._parse_set(item) for item in args.set),
        "seeds": seeds,
        "eval": f"test split, predicted observation, {args.eval_slices} slices × "
        f"{args.eval_windows} windows; a DQL cell: mean over seeds, 95 % t-interval",
        "results": results,
    }
    with open(os.path.join(args.out, f"scaling_{args.tag}.json"), "w") as f:
        json.dump(payload, f, indent=2, default=float)
    plot(payload, os.path.join(args.out, f"scaling_{args.tag}.png"))
    return payload


if __name__ == "__main__":
    run(sys.argv[1:])
    sys.exit(0)
