"""`difsched evaluate`: mean packet loss of policies with 95 % intervals."""

from __future__ import annotations

from difsched_jax.cli.common import add_allocation, add_objective, add_traffic_dir
from difsched_jax.cli.types import ConfigIndex, Int, OutFile, PolicyList, seed


def add(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="mean packet loss of one or several policies with 95 %% intervals",
        description="Evaluate policies over independent slices x windows. Several "
        "comma-separated policies give one table (and with --plot one bar chart).",
    )
    p.add_argument(
        "--env-config", type=ConfigIndex("env"), default=0, help="env config index (SPEC §2)"
    )
    p.add_argument(
        "--policy",
        type=PolicyList(),
        default="equal",
        help="comma-separated names: equal, proportional, random, oracle, "
        "oracle-perfect, mdp:DIR (e.g. equal,oracle,mdp:agents)",
    )
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--obs", choices=("predicted", "perfect"), default="predicted")
    slices = Int(2, what="number of slices", hint="the 95 % interval is over independent slices")
    p.add_argument("--slices", type=slices, default=64, help="independent slices (>= 2)")
    p.add_argument(
        "--windows", type=Int(1, what="number of windows"), default=1000, help="windows per slice"
    )
    p.add_argument(
        "--episode-len",
        type=Int(1, what="episode length"),
        default=None,
        help="windows per episode (default: --windows)",
    )
    add_traffic_dir(p)
    p.add_argument(
        "--alignment",
        choices=("reference", "aligned"),
        default="reference",
        help="losses on the previous window's actual counts, as the reference (and "
        "SPEC §1's table) does (default), or on the observed window's",
    )
    add_allocation(p)
    add_objective(p)
    p.add_argument("--seed", type=seed(), default=0, help="evaluation seed (and synthetic traffic)")
    p.add_argument(
        "--json", type=OutFile("a JSON file"), default=None, help="write the figures here"
    )
    p.add_argument(
        "--plot",
        type=OutFile("a PNG file"),
        default=None,
        help="PNG: a bar chart with 95 %% error bars (several policies) or the "
        "histogram of per-window losses (one policy)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from difsched_jax.config import describe_allocation, describe_objective, get_env_config
    from difsched_jax.evaluate.compare import (
        compare_policies,
        comparison_payload,
        eval_trace,
        format_table,
    )
    from difsched_jax.files import write_json_atomic

    config = get_env_config(args.env_config).replace(
        allocation=args.allocation, objective=args.objective
    )
    trace = eval_trace(config, args.traffic_dir, args.alignment, args.seed)
    rows = compare_policies(
        args.policy,
        config,
        trace,
        split=args.split,
        obs=args.obs,
        num_slices=args.slices,
        num_windows=args.windows,
        episode_len=args.episode_len,
        seed=args.seed,
    )
    traffic = args.traffic_dir or "synthetic"
    print(
        f"env config {args.env_config}, {args.split} split, traffic {traffic}, "
        f"alignment {args.alignment}, allocation {describe_allocation(args.allocation)}, "
        f"objective {describe_objective(args.objective)}"
    )
    print(format_table(rows))
    if args.json:
        payload = comparison_payload(
            rows,
            env_config=args.env_config,
            config=config.to_dict(),
            split=args.split,
            traffic=traffic,
            alignment=args.alignment,
            allocation=args.allocation,
            objective=args.objective,
            seed=args.seed,
        )
        write_json_atomic(args.json, payload)
    if args.plot:
        from difsched_jax.evaluate.plots import plot_comparison, plot_loss_histogram

        kind = "real" if args.traffic_dir else "synthetic"
        title = (
            f"env config {args.env_config}: {args.split} split, {kind} traffic, "
            f"{args.alignment} alignment, {args.allocation} allocation"
        )
        plot = plot_comparison if len(rows) > 1 else plot_loss_histogram
        print(f"wrote {plot(rows, args.plot, title)}")
    return 0
