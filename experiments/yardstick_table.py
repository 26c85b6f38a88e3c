"""The yardstick table: non-learned policies and the oracles on the four env configs.

Under each allocation semantics (`integer`: whole resource blocks, the default;
`reference`: the reference's ceil, which reproduces SPEC §1's figures), on the test
split with predicted observation: the MDP behaviour policy, equal share, proportional,
random, the oracle on the predicted counts, oracle-calibrated (deployable), oracle-bayes
(in-sample floor), [oracle-ceil under reference], and the oracle with perfect observation.
Every policy sees the same slices and windows; the Δ columns pair each with oracle-bayes.

    python experiments/yardstick_table.py --traffic-dir ../shared/data/traffic \\
        --agents ../shared/data/reference --out experiments/figures

Writes OUT/yardsticks_{ALLOCATION}.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from difsched_jax.config import get_env_config
from difsched_jax.evaluate.compare import compare_policies, eval_trace

BASELINES = ["mdp", "equal", "proportional", "random"]
ORACLES = ["oracle", "oracle-calibrated", "oracle-bayes"]
# SPEC §1 (the reference's figures: real traces, its ceil): MDP / equal / oracle pred / perf
SPEC_FIGURES = {
    0: (0.333, 0.297, 0.282, 0.231),
    1: (0.451, 0.500, 0.382, 0.312),
    2: (0.354, 0.297, 0.302, 0.216),
    3: (0.464, 0.500, 0.401, 0.297),
}


def policy_names(allocation: str, agents: str | None) -> list[str]:
    base = [f"mdp:{agents}" if n == "mdp" else n for n in BASELINES if n != "mdp" or agents]
    extra = ["oracle-ceil"] if allocation == "reference" else []
    return base + ORACLES + extra + ["oracle-perfect"]


def evaluate(env: int, allocation: str, args) -> list[dict]:
    config = get_env_config(env).replace(allocation=allocation)
    trace = eval_trace(config, args.traffic_dir, "reference", args.seed)
    names = policy_names(allocation, args.agents)
    rows = compare_policies(
        names, config, trace, num_slices=args.slices, num_windows=args.windows, seed=args.seed
    )
    return [{"name": n.partition(":")[0], **row.summary()} for n, row in zip(names, rows)]


def table(results: dict, allocation: str, traffic: bool) -> str:
    names = [r["name"] for r in next(iter(results.values()))]
    head = "| env config | users, B, flow | " + " | ".join(names) + " |"
    lines = [head, "|---|---|" + "---|" * len(names)]
    if allocation == "reference" and traffic:
        lines[0] += " SPEC §1 (MDP / equal / oracle pred / perf) |"
        lines[1] += "---|"
    for env, rows in results.items():
        cfg = get_env_config(env)
        cells = [f"{r['mean_loss']:.4f} ± {r['ci95']:.4f}" for r in rows]
        line = f"| {env} | {cfg.num_users}, {cfg.budget}, {cfg.flow} | " + " | ".join(cells) + " |"
        if allocation == "reference" and traffic:
            line += " " + " / ".join(f"{x:.3f}" for x in SPEC_FIGURES[env]) + " |"
        lines.append(line)
    lines += ["", "Paired differences to oracle-bayes (mean ± 95 % interval over slices):", ""]
    lines += [head.replace("| env config | users, B, flow |", "| env config |")]
    lines += ["|---|" + "---|" * len(names)]
    for env, rows in results.items():
        cells = []
        for r in rows:
            d = r["paired_difference"].get("oracle-bayes")
            cells.append(
                "" if r["name"] == "oracle-bayes" else f"{d['mean']:+.4f} ± {d['ci95']:.4f}"
            )
        lines.append(f"| {env} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    p.add_argument("--agents", default=None, help="solved MDP sub-agents (default: no MDP row)")
    p.add_argument("--out", required=True)
    p.add_argument("--envs", default="0,1,2,3")
    p.add_argument("--allocations", default="integer,reference")
    p.add_argument("--slices", type=int, default=256)
    p.add_argument("--windows", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    payload = {}
    for allocation in args.allocations.split(","):
        results = {int(e): evaluate(int(e), allocation, args) for e in args.envs.split(",")}
        text = table(results, allocation, args.traffic_dir is not None)
        print(f"## {allocation} allocation\n\n{text}\n", flush=True)
        stem = os.path.join(args.out, f"yardsticks_{allocation}")
        with open(stem + ".md", "w") as f:
            f.write(text + "\n")
        for rows in results.values():
            for r in rows:
                r.pop("slice_losses")  # kept by `difsched evaluate --json`; not needed here
        payload[allocation] = {
            "traffic": args.traffic_dir or "synthetic",
            "eval": f"test split, predicted observation, reference alignment, "
            f"{args.slices} slices × {args.windows} windows, seed {args.seed}",
            "results": {str(e): rows for e, rows in results.items()},
        }
        with open(stem + ".json", "w") as f:
            json.dump(payload[allocation], f, indent=2)
    return payload


if __name__ == "__main__":
    main(sys.argv[1:])
