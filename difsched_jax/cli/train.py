"""`difsched train`: the Diffusion-QL agent (SPEC §5), offline then (optionally) online."""

from __future__ import annotations

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
from difsched_jax.cli.types import ConfigIndex, InDir, Int, OutDir, seed

OUT = OutDir("a run folder")
# DQLRunConfig / DQLConfig fields that come from elsewhere than --set
BY_FLAG = {
    "exp_config": "--exp-config",
    "dataset": "--dataset",
    "bc": "--no-bc",
    "traffic_dir": "--traffic-dir",
    "allocation": "--allocation",
    "agent": "its fields (e.g. --set gamma=0)",
    "state_dim": "the experiment's env config",
    "action_dim": "the experiment's env config",
}


def add(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the Diffusion-QL agent (SPEC §5) offline, then with online fine-tuning",
        description="Each episode: updates (BC on the offline dataset, critic and Q-loss on "
        "a hybrid offline+online batch) in one jitted scan, then exploration (EAS) and greedy "
        "rollouts in vectorised slices on the TRAIN split; the best model is chosen on a "
        "held-out tail of the train split. Writes OUT/config.json, metrics.jsonl, curves.png, "
        "summary.json and Orbax checkpoints OUT/ckpt/{best,latest}. Evaluate on the test "
        "split with `difsched evaluate --policy dql:OUT` (dql:OUT@latest for the last).",
    )
    p.add_argument(
        "--exp-config",
        type=ConfigIndex("experiment"),
        default=None,
        help="experiment config (SPEC §2)",
    )
    p.add_argument(
        "--dataset",
        type=InDir("an offline dataset folder"),
        default=None,
        help="offline dataset folder (gen-dataset)",
    )
    p.add_argument("--no-bc", action="store_true", help="SPEC §5's preset without BC")
    p.add_argument(
        "--spec-agent",
        action="store_true",
        help="SPEC §5's agent as written (γ 0.99, raw actions) instead of our myopic "
        "defaults (γ 0, actions spend exactly B)",
    )
    p.add_argument(
        "--episodes", type=Int(1, what="episodes"), default=None, help="episodes (default 50)"
    )
    add_traffic_dir(p)
    add_allocation(p, None, " (default: the dataset's)")
    p.add_argument("--seed", type=seed(), default=None, help="training seed (default 0)")
    add_set_flag(
        p,
        'a run setting (e.g. updates_per_episode=200, rank_critic="online") or an agent '
        "setting (DQLConfig: gamma=0, beta_max=1.0); repeatable",
    )
    p.add_argument(
        "--out",
        type=OUT,
        default=None,
        help="run folder (default data/results/dql/expI_{bc,nobc}_sK)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    require_unless_resume(p, "exp_config", "dataset")
    p.set_defaults(run=run, check=check, interrupt_note=resume_note("train", "its last checkpoint"))


def accepted_settings() -> dict:
    """--set keys of `difsched train`: run settings, then agent settings."""
    from difsched_jax.agents.dql import DQLConfig
    from difsched_jax.train.dql_config import DQLRunConfig

    return {**settings_of(DQLRunConfig, BY_FLAG), **settings_of(DQLConfig, BY_FLAG)}


def check(args) -> None:
    """The run's settings, built (and so validated) before the dataset is touched."""
    from difsched_jax.agents.dql import DQLConfig
    from difsched_jax.train import dql_config

    check_resume_out(args)
    if args.resume:
        names = ("exp_config", "episodes", "seed", "allocation")
        run = saved_run(args, dql_config.load_run_config, names, "train")
        check_resume_flags(args, run)
        args.run_config = run
        return
    agent_fields = set(DQLConfig.__dataclass_fields__)
    run_kw, agent = {}, {}
    for key, value in check_sets(args.set, accepted_settings(), BY_FLAG).items():
        (agent if key in agent_fields else run_kw)[key] = value
    for name in ("episodes", "seed"):
        if getattr(args, name) is not None:
            run_kw[name] = getattr(args, name)
    run_kw["allocation"] = args.allocation or dataset_allocation(args.dataset)
    try:
        run = dql_config.make_run_config(
            args.exp_config,
            args.dataset,
            bc=not args.no_bc,
            spec_agent=args.spec_agent,
            traffic_dir=args.traffic_dir,
            agent=agent,
            **run_kw,
        )
    except (TypeError, ValueError) as e:  # a value a config cannot use
        raise ValueError(with_sets(e, args.set)) from None
    args.run_config = run
    if args.out is None:
        from difsched_jax import paths

        args.out = validated(
            OUT, paths.dql_run_dir(run.exp_config, run.bc, run.seed), "--out (default)"
        )


def check_resume_flags(args, run) -> None:
    """--resume continues the saved run: every other flag given must say what was saved
    (naming the flag, the saved value and the given one), --set items included."""
    import os

    saved_agent = run.agent_config()

    def refuse(flag: str, saved, given) -> None:
        raise ValueError(
            f"--resume continues {args.out} as saved: {flag} was {saved!r} there, got "
            f"{given!r} (drop the flag, or start a new run in another --out)"
        )

    if args.no_bc and run.bc:
        refuse("--no-bc", "with BC", "--no-bc")
    if args.spec_agent:
        raise ValueError("--resume continues the saved run with its saved agent: drop --spec-agent")
    if args.dataset is not None and os.path.abspath(args.dataset) != os.path.abspath(run.dataset):
        refuse("--dataset", run.dataset, args.dataset)
    if args.traffic_dir is not None and args.traffic_dir != run.traffic_dir:
        refuse("--traffic-dir", run.traffic_dir, args.traffic_dir)
    accepted = accepted_settings()
    for key, value in check_sets(args.set, accepted, BY_FLAG).items():
        saved = getattr(run, key) if hasattr(run, key) else getattr(saved_agent, key)
        if saved != value:
            refuse(f"--set {key}", saved, value)


def dataset_allocation(folder: str) -> str:
    """The allocation semantics a dataset was made under (integer when it will not load:
    training then names what is wrong with it)."""
    from difsched_jax.data import DatasetError, load_dataset

    try:
        return load_dataset(folder, verify=False).allocation
    except (DatasetError, OSError, ValueError):
        return "integer"


def run(args) -> int:
    from difsched_jax.train import dql

    return train_in_folder(args, dql.train)
