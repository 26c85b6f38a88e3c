"""Diffusion-QL ablations: what each of our choices is worth, one row per change.

Every row is the default agent (without BC, `difsched train` defaults) with one
setting changed, trained with ≥3 seeds on the same offline dataset (noisy MDP
behaviour, never the oracle) and evaluated on the TEST split (`dql_table.py`
does the datasets, runs and evaluation; its folders are shared, so rows reuse
datasets and finished runs, and the default row is `dql_table.py --out OUT`'s own
runs). A cell: mean over seeds ± the 95 % t-interval.

    python experiments/dql_ablation.py --out runs/dql_ablation [--exp 0] [--rows a,b]
    python experiments/dql_ablation.py --tiny --out /tmp/a --rows default,mlp   # smoke test

Writes OUT/ablation_TAG.{md,json,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dql_table  # noqa: E402  (same folder: datasets, runs and evaluation helpers)

# the agent of the previous sessions: the critic's argmax among 10 DDIM candidates (box
# space, dropout, 30 steps, no distillation), as its runs' config.json reads back
ARGMAX_AGENT = [
    "critic_argmax=true", "eval_candidates=10", "eval_eta=1.0", "distill_updates=0",
    "w_q=1.0", 'actor_space="box"', "dropout=0.05", "sample_steps=0",
]  # fmt: skip
# row name -> (what changes, --set items, dql_table arguments[, how the runs decide
# (dql:RUN+MODE), the dql_table tag whose runs the row evaluates])
ROWS = {
    "default": ("our default agent", [], []),
    # issue 23: who decides
    "argmax_agent": (
        "the critic's argmax among 10 DDIM candidates (the previous default)",
        ARGMAX_AGENT,
        [],
        "",
        "argmax",
    ),  # fmt: skip
    "argmax_agent_actor": (
        "its actor alone, 1 sample (no teacher)",
        ARGMAX_AGENT,
        [],
        "actor",
        "argmax",
    ),  # fmt: skip
    "argmax_agent_ranked": (
        "its 10 actor samples ranked by the critic, no argmax",
        ARGMAX_AGENT,
        [],
        "ranked",
        "argmax",
    ),  # fmt: skip
    "teacher_term": (
        "Q-loss + a cloning term on the critic's argmax in every update, no distillation",
        [
            'teacher="argmax"',
            "w_q=1.0",
            "distill_updates=0",
            'actor_space="box"',
            "dropout=0.05",
            "sample_steps=5",
        ],
        [],  # fmt: skip
    ),
    "distill_box": (
        "distilled in the action box, not the fair-share space",
        ['actor_space="box"'],
        [],
    ),  # fmt: skip
    "distill_dropout": ("distilled with dropout 0.05", ["dropout=0.05"], []),
    "ranked": ("10 actor samples ranked by the critic (η = 1)", [], [], "ranked"),
    "steps1": ("actor alone, 1 DDIM step", [], [], "actor/1"),
    "steps5": ("actor alone, 5 DDIM steps", [], [], "actor/5"),
    "steps30": ("actor alone, 30 DDIM steps", [], [], "actor/30"),
    "argmax_alone": ("the critic's argmax alone (the teacher)", [], [], "argmax"),
    # earlier sessions' rows (measured under the reference's ceil)
    "no_argmax": ("no critic-argmax candidate (DDIM candidates only)", ["critic_argmax=false"], []),
    "mlp": (
        "SPEC §5's MLP actor and critic (no argmax)",
        ['network="mlp"', "critic_argmax=false"],
        [],
    ),
    "additive": (
        "free per-user critic Q = mean_i q(s, a_i) (the previous default)",
        ['critic_structure="additive"'],
        [],
    ),
    "no_rise": ("weighted critic without the rise penalty on g", ["rise_penalty=0"], []),
    "requested": ("critic on the requested action", ["executed_action=false"], []),
    "online": ("with the online phase (EAS + greedy rollouts)", ["online_phase=true"], []),
    "entropy": ("entropy term (w_e 0.01, divisor floored at 1)", ["w_e=0.01"], []),
    "one_candidate": ("act with 1 DDIM candidate, not 10", ["eval_candidates=1"], []),
    "fifty_candidates": ("act with 50 DDIM candidates", ["eval_candidates=50"], []),
    "target_rank": ("candidates ranked by the target critic", ['rank_critic="target"'], []),
    "constant_lr": ("constant learning rate (no cosine decay)", ["lr_decay_steps=0"], []),
    "noise0": ("behaviour data: the MDP policy without noise", [], ["--behaviour-noise", "0"]),
}


def decision_cost(args, row: str) -> str:
    """Actor network evaluations per decision of a row's runs (DDIM steps × candidates),
    read from a finished run's config; '+ argmax' where the critic's DP joins them."""
    from difsched_jax.train.dql_config import load_run_config

    argv = _table_argv(args, row)
    tag = argv[argv.index("--tag") + 1]
    mode = _spec(row)[3]
    folder = os.path.join(args.out, "runs", f"{tag}_e{args.exp}_nobc_s0")
    if not os.path.exists(os.path.join(folder, "config.json")):
        return ""
    run = load_run_config(folder)
    cfg = run.agent_config()
    base, _, steps = mode.partition("/")
    steps = int(steps) if steps else (cfg.sample_steps or cfg.num_steps)
    if base == "argmax":
        return "0 (+ argmax)"
    if base == "actor":
        return str(steps)
    n = 10 if base == "ranked" else run.eval_candidates
    argmax = cfg.critic_argmax and base == ""
    return f"{n * steps}" + (" + argmax" if argmax else "")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    p.add_argument("--out", required=True, help="folder for datasets, runs and the table")
    p.add_argument("--exp", type=int, default=0)
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--tag", default="default")
    p.add_argument("--table-tag", default="default", help="dql_table.py tag of the default row")
    p.add_argument(
        "--argmax-tag",
        default="argmax_agent",
        help="dql_table.py tag of runs of the previous default (the argmax agent); "
        "trained here with its settings when missing",
    )
    p.add_argument("--data-slices", type=int, default=100)
    p.add_argument("--eval-slices", type=int, default=64)
    p.add_argument("--eval-windows", type=int, default=300)
    p.add_argument("--tiny", action="store_true", help="tiny budget (tests)")
    p.add_argument("--no-train", action="store_true", help="tabulate finished runs only")
    return p.parse_args(argv)


def _spec(row: str) -> tuple:
    """(what, sets, extra, mode, tag or None) of a row."""
    what, sets, extra, *rest = ROWS[row]
    return (what, sets, extra, *rest) + ("", None)[len(rest) :]


def _table_argv(args, row: str) -> list[str]:
    _, sets, extra, mode, tag = _spec(row)
    argv = ["--out", args.out, "--exps", str(args.exp), "--variants", "nobc"]
    if tag is None:  # rows that only decide differently evaluate the default's runs
        tag = args.table_tag if not sets and not extra else f"abl_{row}"
    elif tag == "argmax":
        tag = args.argmax_tag
    argv += ["--modes", mode] if mode else []
    argv += ["--seeds", args.seeds, "--tag", tag, "--data-slices", str(args.data_slices)]
    argv += ["--eval-slices", str(args.eval_slices), "--eval-windows", str(args.eval_windows)]
    argv += ["--tiny"] if args.tiny else []
    argv += ["--no-train"] if args.no_train else []
    argv += ["--table-name", f"ablation_{args.tag}_{row}"]  # not dql_table.py's own table
    argv += ["--traffic-dir", args.traffic_dir] if args.traffic_dir else []
    for item in sets:
        argv += ["--set", item]
    return argv + extra


def table(payload: dict) -> str:
    rows = payload["rows"]
    base = rows.get("default", {}).get("loss", [None])[0]
    lines = [
        "| change | network evaluations per decision | test loss | Δ vs default "
        "| gap to oracle (RB/user) |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        mean, half, seeds = r["loss"]
        delta = f"{mean - base:+.4f}" if base is not None and name != "default" else ""
        gap = f"{r['gap'][0]:.2f} ± {r['gap'][1]:.2f}"
        nfe = r.get("nfe", "")
        lines.append(
            f"| {r['what']} | {nfe} | {mean:.4f} ± {half:.4f} (n={len(seeds)}) | {delta} | {gap} |"
        )
    ref = payload["reference"]
    for key, label in (("equal", "equal share"), ("oracle", "oracle (predicted obs)"),
                       ("calibrated", "oracle-calibrated"),
                       ("bayes", "oracle-bayes (in-sample floor)")):  # fmt: skip
        if key in ref:
            lines.append(f"| {label} | | {ref[key]:.4f} | | |")
    return "\n".join(lines)


def plot(payload: dict, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = payload["rows"]
    names = list(rows)
    fig = Figure(figsize=(6.4, 0.45 * len(names) + 1.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    y = range(len(names))[::-1]
    ax.errorbar([rows[n]["loss"][0] for n in names], y, xerr=[rows[n]["loss"][1] for n in names],
                fmt="o", capsize=3, color="C0")  # fmt: skip
    for yi, n in zip(y, names):
        seeds = rows[n]["loss"][2]
        ax.plot(seeds, [yi] * len(seeds), "k.", ms=3)
    ax.axvline(payload["reference"]["equal"], color="0.5", ls="--", label="equal share")
    ax.axvline(payload["reference"]["oracle"], color="C2", ls="--", label="oracle")
    ax.set_yticks(list(y), [rows[n]["what"] for n in names], fontsize=7)
    ax.set_xlabel(f"packet loss, test split (experiment {payload['exp']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run(argv=None) -> dict:
    args = parse_args(argv)
    names = [r for r in args.rows.split(",") if r]
    for name in names:
        if name not in ROWS:
            raise SystemExit(f"unknown row {name!r}; known: {', '.join(ROWS)}")
    rows, reference = {}, {}
    for name in names:
        res = dql_table.run(_table_argv(args, name))["results"].get(str(args.exp))
        if res is None:  # --no-train and no finished run of this row
            continue
        what, sets, _, mode, _ = _spec(name)
        key = f"nobc+{mode}" if mode else "nobc"
        rows[name] = {"what": what, "sets": sets, "loss": res[key], "gap": res["gap"][key],
                      "nfe": decision_cost(args, name)}  # fmt: skip
        reference = {k: res[k][0] for k in ("equal", "oracle", "calibrated", "bayes") if k in res}
    payload = {
        "tag": args.tag,
        "exp": args.exp,
        "traffic": args.traffic_dir or "synthetic",
        "seeds": [int(s) for s in args.seeds.split(",")],
        "rows": rows,
        "reference": reference,
    }
    text = table(payload)
    print(text)
    with open(os.path.join(args.out, f"ablation_{args.tag}.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, f"ablation_{args.tag}.json"), "w") as f:
        json.dump(payload, f, indent=2, default=float)
    plot(payload, os.path.join(args.out, f"ablation_{args.tag}.png"))
    return payload


if __name__ == "__main__":
    run(sys.argv[1:])
    sys.exit(0)
