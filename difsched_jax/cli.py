"""The `difsched` command. Subcommands parse arguments and call library functions."""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="mean packet loss of policies with 95 %% intervals")
    p.add_argument("--env-config", type=int, default=0)
    p.add_argument("--policy", default="equal", help="comma-separated names, e.g. equal,random")
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--obs", choices=("predicted", "perfect"), default="predicted")
    p.add_argument("--slices", type=int, default=64)
    p.add_argument("--windows", type=int, default=1000)
    p.add_argument(
        "--episode-len", type=int, default=None, help="windows per episode (default: --windows)"
    )
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the figures here")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args) -> int:
    from difsched_jax.config import get_env_config
    from difsched_jax.env import make_env
    from difsched_jax.evaluate.core import evaluate_policy
    from difsched_jax.evaluate.registry import resolve_policy
    from difsched_jax.traffic import get_trace

    config = get_env_config(args.env_config)
    trace = get_trace(config.flow, config.window, args.traffic_dir, seed=args.seed)
    episode_len = args.episode_len or args.windows
    results = []
    for name in [n.strip() for n in args.policy.split(",") if n.strip()]:
        policy = resolve_policy(name, config)
        obs = policy.obs or args.obs
        spec, params = make_env(config, trace, args.split, obs, episode_len)
        res = evaluate_policy(
            policy.act,
            policy.params,
            params,
            spec,
            jax.random.key(args.seed),
            args.slices,
            args.windows,
        )
        row = {"policy": name, "obs": obs, **res.summary()}
        results.append(row)
        print(
            f"{name:24s} loss {res.mean_loss:.4f} ± {res.ci95:.4f} (95 %, {args.slices} slices x {args.windows} windows, obs {obs})"
        )
    if args.json:
        payload = {
            "env_config": args.env_config,
            "config": config.to_dict(),
            "split": args.split,
            "traffic": args.traffic_dir or "synthetic",
            "seed": args.seed,
            "results": results,
        }
        if len(results) == 1:
            payload.update(results[0])
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
    return 0


def _add_build_agent(sub) -> None:
    p = sub.add_parser("build-agent", help="solve MDP sub-agents (SPEC §3) and save them")
    p.add_argument(
        "--subagent-config", type=int, nargs="+", required=True, help="index(es), e.g. 0 1"
    )
    p.add_argument("--out", required=True, help="folder: writes mdp_subagent{i}.npz + .json")
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic traffic")
    p.set_defaults(func=_cmd_build_agent)


def _cmd_build_agent(args) -> int:
    from difsched_jax.agents.mdp import build_subagent

    for index in args.subagent_config:
        path, meta = build_subagent(index, args.out, args.traffic_dir, args.seed)
        print(
            f"sub-agent {index}: {meta['sweeps']} sweeps, {meta['solve_seconds']:.3f} s "
            f"(compile included), cut points {meta['cut_points']} -> {path}"
        )
    return 0


def _add_convert_trace(sub) -> None:
    p = sub.add_parser(
        "convert-trace", help="convert a reference trace pickle to .npz (restricted unpickler)"
    )
    p.add_argument("src", help="the reference's pickle: a dict of NumPy arrays")
    p.add_argument("dst", help="the .npz to write")
    p.add_argument("--window", type=int, default=200, help="window length L (counts <= L)")
    p.set_defaults(func=_cmd_convert_trace)


def _cmd_convert_trace(args) -> int:
    from difsched_jax.traffic.convert import convert_pickle_trace

    trace = convert_pickle_trace(args.src, args.dst, args.window)
    print(
        f"wrote {args.dst}: {trace.train_actual.shape[0]} train + "
        f"{trace.test_actual.shape[0]} test windows, L = {trace.window}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="difsched", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_evaluate(sub)
    _add_build_agent(sub)
    _add_convert_trace(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"difsched {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
