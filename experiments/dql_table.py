"""Diffusion-QL quality table: experiments × (with / without BC) × training seeds.

For each experiment config: the offline dataset of its train dataset config
(noisy MDP behaviour, train split), then one `difsched train` run per variant
and seed (one at a time), [with --ppo one `difsched train-drl --algo ppo` run per
seed,] then every run's best checkpoint on the TEST split beside the behaviour policy,
equal share and the yardsticks: the oracle (predicted and perfect observation),
oracle-calibrated and oracle-bayes (same slices, same key). Everything runs under
`--allocation` (integer by default: whole resource blocks).
Writes OUT/table_TAG.{md,json,png}. A DQL cell is the mean over training seeds ± the
95 % t-interval over seeds; the Δ cells pair each seed's run with the yardstick over the
same slices, then average over seeds (± the t-interval over seeds).

    python experiments/dql_table.py --traffic-dir ../shared/data/traffic --out runs/dql_table
    python experiments/dql_table.py --tiny --out /tmp/t          # smoke test, minutes

`--set KEY=JSON` (repeatable) changes a run or agent setting of every run (e.g.
--set gamma=0 --set rank_critic='"online"'); `--tag` names the variant of the
table. Finished runs are reused (the folder's summary.json), interrupted ones
resumed, so the script can be stopped and started again. `--train-only` trains
without a table; `--no-train` tabulates the seeds that have finished (n in each cell).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from difsched_jax.cli import main as difsched
from difsched_jax.config import get_env_config, get_experiment_config
from difsched_jax.evaluate.compare import compare_policies, eval_trace, format_table
from difsched_jax.evaluate.stats import mean_ci95
from difsched_jax.pipeline.presets import TINY_AGENT, TINY_RUN

VARIANTS = {"bc": [], "nobc": ["--no-bc"]}
# a tiny budget (the tiny preset's agent and run sizes): minutes on a laptop CPU, for
# tests of the script
TINY_RUN = {**TINY_RUN, "episodes": 2, "greedy_windows": 4, "val_every": 1}
# yardstick rows: result key -> registry name
YARDSTICKS = {
    "equal": "equal",
    "oracle": "oracle",
    "calibrated": "oracle-calibrated",
    "bayes": "oracle-bayes",
    "perfect": "oracle-perfect",
}
# SPEC §1's table (real traces, test split, predicted observation, reference allocation)
SPEC_FIGURES = {
    "behaviour": (0.333, 0.451, 0.354, 0.464),
    "equal": (0.297, 0.500, 0.297, 0.500),
    "oracle": (0.282, 0.378, 0.302, 0.398),
}


def _cli(argv: list[str]) -> None:
    if difsched(argv) != 0:
        raise SystemExit(f"difsched {' '.join(argv)} failed")


def agents_dir(args) -> str:
    """Solved MDP sub-agents: the reference's files for the real traces, else built."""
    ref = os.path.join(os.path.dirname(args.traffic_dir or ""), "reference")
    if args.traffic_dir and os.path.exists(os.path.join(ref, "seed_mdp_subagent0.npz")):
        return ref
    out = os.path.join(args.out, "agents")
    if not os.path.exists(os.path.join(out, "mdp_subagent1.npz")):
        cmd = ["build-agent", "--subagent-config", "0", "1", "--out", out]
        _cli(cmd + (["--traffic-dir", args.traffic_dir] if args.traffic_dir else []))
    return out


def dataset(args, exp: int, agents: str) -> str:
    idx = get_experiment_config(exp).train_dataset
    slices, windows = (2, 40) if args.tiny else (args.data_slices, args.data_windows)
    name = f"ds{idx}_{slices}x{windows}_noise{args.behaviour_noise:g}"
    out = os.path.join(args.out, "datasets", name)
    if not os.path.exists(os.path.join(out, "meta.json")):
        cmd = ["gen-dataset", "--dataset-config", str(idx), "--agents", agents, "--out", out]
        cmd += ["--slices", str(slices), "--windows", str(windows), "--no-progress"]
        cmd += ["--behaviour-noise", str(args.behaviour_noise), "--allocation", args.allocation]
        _cli(cmd + (["--traffic-dir", args.traffic_dir] if args.traffic_dir else []))
    return out


def ppo_run(args, exp: int, seed: int) -> str:
    """A PPO baseline on the experiment's env (train split), trained once and reused."""
    out = os.path.join(args.out, "runs", f"ppo_{args.allocation}_e{exp}_s{seed}")
    if os.path.exists(os.path.join(out, "summary.json")):
        return out
    env = str(get_experiment_config(exp).env)
    cmd = ["train-drl", "--algo", "ppo", "--env-config", env, "--out", out, "--seed", str(seed)]
    cmd += ["--allocation", args.allocation, "--no-progress"]
    cmd += ["--steps", "2000", "--chunk-steps", "1000"] if args.tiny else []
    if os.path.exists(os.path.join(out, "ckpt", "latest")):
        cmd = ["train-drl", "--resume", "--out", out, "--no-progress"]
    _cli(
        cmd
        + (
            ["--traffic-dir", args.traffic_dir]
            if args.traffic_dir and "--resume" not in cmd
            else []
        )
    )
    return out


def run_folder(args, exp: int, variant: str, seed: int) -> str:
    return os.path.join(args.out, "runs", f"{args.tag}_e{exp}_{variant}_s{seed}")


def train_run(args, exp: int, variant: str, seed: int, data: str) -> str:
    out = run_folder(args, exp, variant, seed)
    if os.path.exists(os.path.join(out, "summary.json")):
        return out  # finished earlier
    if os.path.exists(os.path.join(out, "ckpt", "latest")):
        _cli(["train", "--resume", "--out", out, "--no-progress"])
        return out
    cmd = ["train", "--exp-config", str(exp), "--dataset", data, "--out", out, "--seed", str(seed)]
    cmd += VARIANTS[variant] + ["--no-progress", "--allocation", args.allocation]
    cmd += ["--traffic-dir", args.traffic_dir] if args.traffic_dir else []
    settings = {**TINY_AGENT, **TINY_RUN} if args.tiny else {}
    settings.update(dict(_parse_set(item) for item in args.set))
    for key, value in settings.items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    _cli(cmd)
    return out


def _parse_set(item: str):
    key, sep, value = item.partition("=")
    if not sep:
        raise SystemExit(f"--set expects KEY=JSON, got {item!r}")
    return key.strip(), json.loads(value)


def evaluate(args, exp: int, runs: dict, agents: str, ppo: list[str]) -> dict:
    """Test-split losses of the baselines, the yardsticks and every run (one compare call)."""
    config = get_env_config(get_experiment_config(exp).env).replace(allocation=args.allocation)
    trace = eval_trace(config, args.traffic_dir, "reference", 0)
    modes = [""] + [f"+{m}" for m in args.modes.split(",") if m]
    trained = [f"dql:{r}{m}" for rs in runs.values() for r in rs for m in modes]
    trained += [f"ppo:{r}" for r in ppo]
    policies = list(YARDSTICKS.values()) + [f"mdp:{agents}"] + trained
    slices, windows = (2, 3) if args.tiny else (args.eval_slices, args.eval_windows)
    rows = compare_policies(policies, config, trace, num_slices=slices, num_windows=windows)
    print(f"experiment {exp}, {args.allocation} allocation:\n{format_table(rows)}", flush=True)
    by = dict(zip(policies, rows))
    out = {
        key: (by[name].result.mean_loss, by[name].result.ci95) for key, name in YARDSTICKS.items()
    }
    behaviour = by[f"mdp:{agents}"].result
    out["behaviour"] = (behaviour.mean_loss, behaviour.ci95)
    out["gap"] = {"behaviour": behaviour.oracle_gap, "equal": by["equal"].result.oracle_gap}
    # each policy minus a yardstick, paired over the same slices
    out["paired"] = {
        ref: {
            "equal": by["equal"].paired.get(name),
            "behaviour": by[f"mdp:{agents}"].paired.get(name),
        }
        for ref, name in (("bayes", "oracle-bayes"), ("oracle", "oracle"))
    }
    out["paired"]["calibrated"] = {}
    base = by["oracle-calibrated"].result.slice_means

    def vs_calibrated(name):
        return mean_ci95(by[name].result.slice_means - base)

    groups = {
        f"{variant}{m}": [f"dql:{r}{m}" for r in rs] for variant, rs in runs.items() for m in modes
    }
    if ppo:
        groups["ppo"] = [f"ppo:{r}" for r in ppo]
    for variant, names in groups.items():
        seeds = [by[n].result.mean_loss for n in names]
        out[variant] = (*mean_ci95(seeds), seeds)
        # decision shape: mean |r − r*| per user and decision, r* the oracle's (RB)
        gaps = [by[n].result.oracle_gap for n in names]
        out["gap"][variant] = (*mean_ci95(gaps), gaps)
        for ref, name in (("bayes", "oracle-bayes"), ("oracle", "oracle")):
            diffs = [by[n].paired[name][0] for n in names]
            out["paired"][ref][variant] = (*mean_ci95(diffs), diffs)
        diffs = [vs_calibrated(n)[0] for n in names]
        out["paired"]["calibrated"][variant] = (*mean_ci95(diffs), diffs)
    return out


def _label(v: str) -> str:
    variant, _, mode = v.partition("+")
    mode, _, steps = mode.partition("/")
    base = {"bc": "DQL + BC", "nobc": "DQL without BC", "ppo": "PPO"}[variant]
    steps = f", {steps} DDIM steps" if steps else ""
    return f"{base} ({MODE_LABELS[mode]}{steps})" if mode else base


# `dql:RUN+MODE` (evaluate/registry.py): how a run decides
MODE_LABELS = {
    "actor": "actor alone, 1 sample",
    "ranked": "10 actor samples ranked by the critic",
    "argmax": "critic argmax alone",
}


def _seeds_cell(cell, digits: int = 4) -> str:
    mean, half, seeds = cell
    return f"{mean:.{digits}f} ± {half:.{digits}f} (n={len(seeds)})"


def table(results: dict, variants: list[str]) -> str:
    """One row per experiment: baselines, yardsticks, DQL, and DQL's paired differences
    to oracle-calibrated (the deployable baseline) and oracle-bayes (the floor)."""
    trained = variants + (["ppo"] if any("ppo" in r for r in results.values()) else [])
    head = "| experiment | behaviour (MDP) | equal share |"
    head += "".join(f" {_label(v)} |" for v in trained)
    head += " oracle (predicted) | oracle-calibrated | oracle-bayes (in-sample floor) |"
    head += " oracle (perfect obs) |"
    head += "".join(
        f" {_label(v)} − oracle-calibrated | {_label(v)} − oracle-bayes |" for v in variants
    )
    lines = [head, "|" + "---|" * (7 + len(trained) + 2 * len(variants))]
    for exp, res in results.items():
        cells = [f"{res[k][0]:.4f}" for k in ("behaviour", "equal")]
        cells += [_seeds_cell(res[v]) for v in trained]
        cells += [f"{res[k][0]:.4f}" for k in ("oracle", "calibrated", "bayes", "perfect")]
        for v in variants:
            for ref in ("calibrated", "bayes"):
                mean, half, seeds = res["paired"][ref][v]
                cells.append(f"{mean:+.4f} ± {half:.4f} (n={len(seeds)})")
        env = get_env_config(get_experiment_config(exp).env)
        name = f"{exp} ({env.num_users} users, B {env.budget}, {env.flow})"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict, variants: list[str], path: str) -> None:
    """One panel per experiment: baselines and DQL variants (95 % bars; dots = seeds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    trained = variants + (["ppo"] if any("ppo" in r for r in results.values()) else [])
    names = ["behaviour", "equal"] + trained + ["oracle", "calibrated", "bayes", "perfect"]
    labels = ["MDP", "equal"] + [_label(v).replace("DQL without BC", "DQL") for v in trained]
    labels += ["oracle", "calibrated", "bayes", "perfect obs"]
    colors = ["0.6", "0.75"] + ["C0", "C1", "C2"][: len(trained)] + ["0.45", "C4", "C3", "0.2"]
    fig = Figure(figsize=(4.2 * len(results), 3.6))
    FigureCanvasAgg(fig)
    for i, (exp, res) in enumerate(results.items()):
        ax = fig.add_subplot(1, len(results), i + 1)
        means = [res[n][0] for n in names]
        ax.bar(range(len(names)), means, yerr=[res[n][1] for n in names], capsize=3, color=colors)
        for j, v in enumerate(trained):
            seeds = res[v][2]
            ax.plot([2 + j] * len(seeds), seeds, "k.", ms=4)
        lo = min(means)
        ax.set_ylim(0.9 * lo, 1.05 * max(means))
        ax.set_xticks(range(len(names)), labels, rotation=45, fontsize=8)
        ax.set_title(f"experiment {exp}", fontsize=9)
        if i == 0:
            ax.set_ylabel("packet loss (test split)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    p.add_argument("--out", required=True, help="folder for datasets, runs and the table")
    p.add_argument("--exps", default="0,1,2,3")
    p.add_argument("--variants", default="bc,nobc")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    p.add_argument("--tag", default="default", help="names this table's runs")
    p.add_argument("--table-name", default=None, help="OUT/NAME.{md,json,png} (table_TAG)")
    p.add_argument("--data-slices", type=int, default=100)
    p.add_argument("--data-windows", type=int, default=1000)
    p.add_argument(
        "--behaviour-noise",
        type=float,
        default=0.5,
        help="noisy MDP behaviour (std in units of B/N per user; 0: the reference's policy)",
    )
    p.add_argument("--eval-slices", type=int, default=64)
    p.add_argument("--eval-windows", type=int, default=300)
    p.add_argument("--allocation", choices=("integer", "reference"), default="integer")
    p.add_argument("--ppo", action="store_true", help="train and tabulate PPO too (--seeds)")
    p.add_argument(
        "--modes",
        default="",
        help="also evaluate each DQL run deciding as dql:RUN+MODE, comma-separated: "
        "actor, ranked, argmax",
    )
    p.add_argument("--tiny", action="store_true", help="tiny budget (tests)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--train-only", action="store_true", help="train, no table")
    mode.add_argument("--no-train", action="store_true",
                      help="tabulate the runs that have finished, train none")  # fmt: skip
    return p.parse_args(argv)


def run(argv=None) -> dict:
    args = parse_args(argv)
    exps = [int(x) for x in args.exps.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    seeds = [int(x) for x in args.seeds.split(",")]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r}; known: {sorted(VARIANTS)}")
    os.makedirs(args.out, exist_ok=True)
    agents = agents_dir(args)
    results = {}
    for exp in exps:
        runs = {v: [] for v in variants}
        ppo = []
        if args.no_train:
            for v in variants:
                folders = [run_folder(args, exp, v, s) for s in seeds]
                runs[v] = [r for r in folders if os.path.exists(os.path.join(r, "summary.json"))]
            if not all(runs.values()):
                print(f"exp {exp}: no finished runs of every variant, left out", flush=True)
                continue
            if args.ppo:
                folders = [
                    os.path.join(args.out, "runs", f"ppo_{args.allocation}_e{exp}_s{s}")
                    for s in seeds
                ]
                ppo = [r for r in folders if os.path.exists(os.path.join(r, "summary.json"))]
        else:
            data = dataset(args, exp, agents)
            for v in variants:
                for s in seeds:
                    t0 = time.perf_counter()
                    runs[v].append(train_run(args, exp, v, s, data))
                    print(f"exp {exp} {v} seed {s}: {time.perf_counter() - t0:.0f} s", flush=True)
            for s in seeds if args.ppo else ():
                t0 = time.perf_counter()
                ppo.append(ppo_run(args, exp, s))
                print(f"exp {exp} ppo seed {s}: {time.perf_counter() - t0:.0f} s", flush=True)
        if not args.train_only:
            results[exp] = evaluate(args, exp, runs, agents, ppo)
    if args.train_only or not results:
        return {"results": {}}
    modes = [""] + [f"+{m}" for m in args.modes.split(",") if m]
    columns = [f"{v}{m}" for v in variants for m in modes]
    text = table(results, columns)
    print(text)
    payload = {
        "tag": args.tag,
        "settings": dict(_parse_set(item) for item in args.set),
        "traffic": args.traffic_dir or "synthetic",
        "data": f"{args.data_slices} slices × {args.data_windows} windows, noisy MDP behaviour "
        f"(noise {args.behaviour_noise:g}·B/N)",
        "allocation": args.allocation,
        "eval": "test split, predicted observation, reference alignment, "
        f"{args.allocation} allocation, "
        f"{args.eval_slices} slices × {args.eval_windows} windows, seed 0",
        "results": {str(e): r for e, r in results.items()},
        "spec_figures": SPEC_FIGURES,
    }
    stem = os.path.join(args.out, args.table_name or f"table_{args.tag}")
    with open(stem + ".md", "w") as f:
        f.write(text + "\n")
    with open(stem + ".json", "w") as f:
        json.dump(payload, f, indent=2, default=float)
    plot(results, columns, stem + ".png")
    return payload


if __name__ == "__main__":
    run(sys.argv[1:])
    sys.exit(0)
