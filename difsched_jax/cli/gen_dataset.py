"""`difsched gen-dataset`: the offline dataset of a dataset config (SPEC §4), sharded."""

from __future__ import annotations

import contextlib
import os

from difsched_jax.cli.common import (
    add_allocation,
    add_objective,
    add_traffic_dir,
    rerun_note,
    validated,
)
from difsched_jax.cli.types import (
    ConfigIndex,
    Float,
    HostPort,
    InDir,
    Int,
    OutDir,
    seed,
)

OUT = OutDir("a dataset folder")


def add(sub) -> None:
    p = sub.add_parser(
        "gen-dataset",
        help="offline dataset of a dataset config (SPEC §4), sharded to disk",
        description="Every slice x window is one transition of the config's MDP behaviour "
        "policy. Chunks of windows run as one jitted scan over all slices (sharded over the "
        "local devices) and are written as checked .npz shards while the next chunk runs.",
    )
    p.add_argument(
        "--dataset-config", type=ConfigIndex("dataset"), required=True, help="index 0-7 (SPEC §2)"
    )
    p.add_argument(
        "--slices",
        type=Int(1, what="number of slices"),
        default=1,
        help="independent slices S (reference: 1)",
    )
    p.add_argument(
        "--windows", type=Int(1, what="number of windows"), default=10_000, help="windows per slice"
    )
    p.add_argument(
        "--episode-len",
        type=Int(1, what="episode length"),
        default=1000,
        help="windows per episode",
    )
    p.add_argument("--obs", choices=("predicted", "perfect"), default="predicted")
    p.add_argument("--split", choices=("train", "test"), default="train")
    add_traffic_dir(p)
    p.add_argument("--traffic-seed", type=seed(), default=0, help="seed of the synthetic traffic")
    p.add_argument(
        "--alignment",
        choices=("reference", "aligned"),
        default="reference",
        help="losses on the previous window's actual counts, as the reference does "
        "(default), or on the observed window's",
    )
    add_allocation(p)
    add_objective(p)
    p.add_argument(
        "--agents",
        type=InDir("a folder of solved sub-agents"),
        default=None,
        help="folder of solved sub-agents (default: solve them now)",
    )
    p.add_argument("--seed", type=seed(), default=None, help="data seed (default: the config's)")
    p.add_argument(
        "--behaviour-noise",
        type=Float(0.0, what="behaviour noise"),
        default=0.0,
        help="noisy MDP behaviour: add N(0, (X·B/N)²) resource blocks per user to each request "
        "(default 0: the reference's policy)",
    )
    p.add_argument(
        "--chunk-windows",
        type=Int(1, what="windows per shard"),
        default=None,
        help="windows per shard",
    )
    p.add_argument(
        "--devices",
        type=Int(1, what="number of devices"),
        default=None,
        help="local devices (default: all)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() first; each host writes part-PPP-of-NNN/",
    )
    p.add_argument(
        "--coordinator",
        type=HostPort(),
        default=None,
        help="host:port of process 0 (--distributed)",
    )
    p.add_argument(
        "--num-processes",
        type=Int(1, what="num_processes"),
        default=None,
        help="hosts (--distributed)",
    )
    p.add_argument(
        "--process-id",
        type=Int(0, what="process_id"),
        default=None,
        help="this host (--distributed)",
    )
    p.add_argument(
        "--heartbeat-timeout",
        type=Int(1, what="heartbeat_timeout", hint="seconds"),
        default=60,
        help="seconds without a heartbeat after which a process counts as dead and the "
        "others stop with an error (--distributed; default 60)",
    )
    p.add_argument(
        "--init-timeout",
        type=Int(1, what="init_timeout", hint="seconds"),
        default=300,
        help="seconds to wait for every process to join (--distributed; default 300)",
    )
    p.add_argument(
        "--out",
        type=OUT,
        default=None,
        help="dataset folder (default data/processed/offline_dataset/offline_datasetI_SS_TT_seedK)",
    )
    p.set_defaults(run=run, check=check, interrupt_note=interrupt_note)


def interrupt_note(args) -> str:
    how = "run the same command again" + ("" if args.resume else " with --resume")
    return rerun_note("the finished chunks", how)(args)


def check(args) -> None:
    """Flags, the distributed set-up and the output folder, before any work."""
    from difsched_jax import distributed

    if args.out is None:
        from difsched_jax import paths
        from difsched_jax.config import get_dataset_config

        seed = get_dataset_config(args.dataset_config).seed if args.seed is None else args.seed
        path = paths.dataset_dir(args.dataset_config, args.slices, args.windows, seed)
        args.out = validated(OUT, path, "--out (default)")
    args.setup = None
    if not args.distributed:
        if args.coordinator or args.num_processes is not None or args.process_id is not None:
            raise ValueError("--coordinator, --num-processes and --process-id need --distributed")
    else:
        args.setup = distributed.HostSetup(
            args.coordinator, args.num_processes, args.process_id,
            args.heartbeat_timeout, args.init_timeout,
        )  # fmt: skip
    folder = _own_folder(args)
    if folder is not None:
        _check_folder(folder, args.resume)


def _own_folder(args) -> str | None:
    """The folder this process writes: --out, or its part folder in a distributed run
    (None where JAX detects the process ids itself)."""
    setup = args.setup
    if setup is None:
        return args.out
    if setup.num_processes is None or setup.process_id is None:
        return None
    if setup.num_processes == 1:
        return args.out
    part = f"part-{setup.process_id:03d}-of-{setup.num_processes:03d}"
    return os.path.join(args.out, part)


def _check_folder(folder: str, resume: bool) -> None:
    """What `generate_dataset` would refuse, refused before the traffic is loaded."""
    from difsched_jax.data.storage import META_NAME

    if os.path.isfile(folder):
        raise ValueError(f"{folder} is a file, not a folder (expected a dataset folder)")
    if os.path.exists(os.path.join(folder, META_NAME)):
        if not resume:
            raise ValueError(
                f"{folder} already holds a dataset: pass --resume to continue it, "
                "or choose another folder"
            )
    elif os.path.isdir(folder) and os.listdir(folder):
        raise ValueError(
            f"{folder} exists, is not empty and holds no {META_NAME}: choose an empty folder"
        )


def run(args) -> int:
    from difsched_jax import distributed
    from difsched_jax.locking import hold_folder

    folder = _own_folder(args)
    lock = hold_folder(folder) if folder is not None else contextlib.nullcontext()
    with lock:
        if args.setup is None:
            return generate(args, None)
        lost = (
            f"{args.out} is incomplete and will not load: start every process again with the "
            "same flags and --resume (finished shards are kept)"
        )
        work = lambda: generate(args, args.setup)
        return distributed.run_supervised(work, args.setup, "gen-dataset", lost)


def generate(args, setup) -> int:
    """gen-dataset proper; with a HostSetup, in a supervised child of a distributed run."""
    import jax

    if setup is not None:  # before anything touches a device
        from difsched_jax.distributed import initialize

        initialize(setup)
    from difsched_jax.config import get_dataset_config
    from difsched_jax.data import DatasetError, generate_dataset, load_dataset
    from difsched_jax.data.policy import behaviour_policies
    from difsched_jax.traffic import load_trace

    config = get_dataset_config(args.dataset_config).replace(
        allocation=args.allocation, objective=args.objective
    )
    trace = load_trace(
        config.flow, config.window, args.traffic_dir, args.traffic_seed, args.alignment
    )
    policies, facts = behaviour_policies(
        config, args.traffic_dir, args.agents, args.traffic_seed, args.behaviour_noise
    )
    info = {
        "dataset_config": args.dataset_config,
        "traffic": args.traffic_dir or f"synthetic (seed {args.traffic_seed})",
        "alignment": args.alignment,
        **facts,
    }
    summary = generate_dataset(
        args.out,
        config,
        trace,
        policies,
        num_slices=args.slices,
        num_windows=args.windows,
        episode_len=args.episode_len,
        obs=args.obs,
        split=args.split,
        seed=config.seed if args.seed is None else args.seed,
        chunk_windows=args.chunk_windows,
        resume=args.resume,
        progress=not args.no_progress,
        devices=args.devices,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
        info=info,
    )
    print(
        f"{summary['folder']}: {summary['transitions']:,} transitions in {summary['seconds']:.1f} s "
        f"({summary['transitions_per_s']:,.0f}/s), {summary['shards']} shards, "
        f"{summary['bytes'] / 2**20:,.1f} MiB written",
        flush=True,
    )
    first = jax.process_index() == 0
    if setup is not None:
        from difsched_jax.distributed import wait_for_all

        wait_for_all("gen-dataset-done")  # every part is complete
        jax.distributed.shutdown()
    if first:  # process 0 reads the joined dataset (all parts, on a shared file system)
        try:
            ds = load_dataset(args.out, verify=False)
        except DatasetError as e:
            print(f"the parts are not all here to join ({e}); gather the part-* folders in one")
            return 0
        total = sum(float(d["loss"].sum(dtype="float64")) for _, d in ds.iter_shards(["loss"]))
        print(f"mean loss {total / ds.num_transitions:.4f} over {ds.num_transitions:,} transitions")
    return 0
