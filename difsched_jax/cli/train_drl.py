"""`difsched train-drl`: an online deep-RL baseline (PPO or SAC) on the vectorised env."""

from __future__ import annotations

import dataclasses
import os

from difsched_jax.cli.common import (
    add_allocation,
    add_traffic_dir,
    check_resume_out,
    require_unless_resume,
    resume_note,
    saved_run,
    train_in_folder,
    validated,
)
from difsched_jax.cli.settings import add_set_flag, check_sets, settings_of, with_sets
from difsched_jax.cli.types import ConfigIndex, Float, Int, OutDir, seed

OUT = OutDir("a run folder")


def add(sub) -> None:
    p = sub.add_parser(
        "train-drl",
        help="train an online deep-RL baseline (PPO or SAC) on the vectorised env",
        description="Train PPO or SAC on many slices in parallel (train split; its last "
        "--val-fraction held out to pick the best checkpoint). Writes OUT/config.json, "
        "metrics.jsonl, curve.png, summary.json and Orbax checkpoints OUT/ckpt/{best,latest}. "
        "Evaluate with `difsched evaluate --policy ppo:OUT`.",
    )
    p.add_argument("--algo", choices=("ppo", "sac"), default=None, help="required unless --resume")
    p.add_argument(
        "--env-config", type=ConfigIndex("env"), default=None, help="env config index (SPEC §2)"
    )
    p.add_argument(
        "--steps", type=Int(1, what="env steps"), default=None, help="env steps (default 100000)"
    )
    p.add_argument(
        "--slices",
        type=Int(1, what="number of slices"),
        default=None,
        help="parallel slices (default: agent's)",
    )
    add_traffic_dir(p)
    # defaults are filled in by `check` (None here: with --resume, a flag given is one
    # the user chose, and must match the saved run)
    p.add_argument(
        "--obs", choices=("predicted", "perfect"), default=None, help="default predicted"
    )
    p.add_argument(
        "--alignment", choices=("reference", "aligned"), default=None, help="default reference"
    )
    add_allocation(p, default=None, note="; default integer")
    p.add_argument("--seed", type=seed(), default=None, help="default 0")
    p.add_argument(
        "--chunk-steps",
        type=Int(1, what="env steps per chunk"),
        default=None,
        help="env steps per jitted chunk (default 10000)",
    )
    p.add_argument(
        "--val-fraction",
        type=Float(0.0, 1.0, lo_open=True, hi_open=True, what="validation fraction"),
        default=None,
        help="default 0.2",
    )
    add_set_flag(p, "agent hyper-parameter, e.g. --set lr=3e-4 --set hidden=[128,128] (repeatable)")
    p.add_argument(
        "--out", type=OUT, default=None, help="run folder (default data/results/drl/ALGO_envE_sK)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    require_unless_resume(p, "algo", "env_config")
    p.set_defaults(
        run=run, check=check, interrupt_note=resume_note("train-drl", "its last checkpoint")
    )


DEFAULTS = {
    "obs": "predicted", "alignment": "reference", "allocation": "integer", "seed": 0,
    "chunk_steps": 10_000, "val_fraction": 0.2,
}  # fmt: skip


def accepted_settings(algo: str) -> dict:
    from difsched_jax.train.drl import ALGOS

    return settings_of(ALGOS[algo][1])


def check(args) -> None:
    from difsched_jax.train import drl

    check_resume_out(args)
    if args.resume:
        names = ("algo", "env_config", "steps", *DEFAULTS)
        run = saved_run(args, drl.load_run_config, names, "train-drl")
        if args.traffic_dir is not None and (
            run.traffic_dir is None
            or os.path.abspath(args.traffic_dir) != os.path.abspath(run.traffic_dir)
        ):
            raise ValueError(
                f"--resume continues {args.out} as saved (traffic_dir = {run.traffic_dir}), got "
                f"--traffic-dir {args.traffic_dir}"
            )
        saved_agent = dataclasses.asdict(run.agent)
        given = {"num_slices": args.slices} if args.slices is not None else {}
        given.update(check_sets(args.set, accepted_settings(run.algo)))
        for key, value in given.items():
            if saved_agent[key] != value:
                flag_name = "--slices" if key == "num_slices" and args.slices else f"--set {key}"
                raise ValueError(
                    f"--resume continues {args.out} as saved: {flag_name} was "
                    f"{saved_agent[key]!r} there, got {value!r} (drop the flag, or start a new "
                    "run in another --out)"
                )
        args.run_config = run
        return
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    agent = check_sets(args.set, accepted_settings(args.algo))
    try:
        run = drl.make_run_config(
            args.algo,
            args.env_config,
            slices=args.slices,
            steps=args.steps or 100_000,
            obs=args.obs,
            traffic_dir=args.traffic_dir,
            alignment=args.alignment,
            allocation=args.allocation,
            seed=args.seed,
            chunk_steps=args.chunk_steps,
            val_fraction=args.val_fraction,
            agent=agent,
        )
    except (TypeError, ValueError) as e:  # a value a config cannot use
        raise ValueError(with_sets(e, args.set)) from None
    args.run_config = run
    if args.out is None:
        from difsched_jax import paths

        path = paths.drl_run_dir(run.algo, run.env_config, args.seed)
        args.out = validated(OUT, path, "--out (default)")


def run(args) -> int:
    from difsched_jax.train import drl

    return train_in_folder(args, drl.train)
