"""`difsched build-agent`: solve MDP sub-agents (SPEC §3) and save them."""

from __future__ import annotations

from difsched_jax.cli.common import add_traffic_dir, validated
from difsched_jax.cli.types import ConfigIndex, OutDir, seed

OUT = OutDir("a folder for mdp_subagent{i}.npz + .json")


def add(sub) -> None:
    p = sub.add_parser("build-agent", help="solve MDP sub-agents (SPEC §3) and save them")
    p.add_argument(
        "--subagent-config",
        type=ConfigIndex("sub-agent"),
        nargs="+",
        required=True,
        help="index(es), e.g. 0 1",
    )
    p.add_argument(
        "--out",
        type=OUT,
        default=None,
        help="folder: writes mdp_subagent{i}.npz + .json (default data/results/MdpPolicy)",
    )
    add_traffic_dir(p)
    p.add_argument("--seed", type=seed(), default=0, help="seed of the synthetic traffic")
    p.set_defaults(run=run, check=check)


def check(args) -> None:
    if args.out is None:
        from difsched_jax import paths

        args.out = validated(OUT, paths.agents_dir(), "--out (default)")


def run(args) -> int:
    from difsched_jax.agents.mdp import build_subagent

    for index in args.subagent_config:
        path, meta = build_subagent(index, args.out, args.traffic_dir, args.seed)
        print(
            f"sub-agent {index}: {meta['sweeps']} sweeps, {meta['solve_seconds']:.3f} s "
            f"(compile included), cut points {meta['cut_points']} -> {path}"
        )
    return 0
