"""`difsched pipeline`: one command from traffic to report."""

from __future__ import annotations

from difsched_jax.cli.common import add_allocation, add_traffic_dir, rerun_note, validated
from difsched_jax.cli.types import Names, OutDir, seed

OUT = OutDir("a pipeline run folder")


def add(sub) -> None:
    p = sub.add_parser(
        "pipeline",
        help="one command from traffic to report: agents, datasets, training, evaluation",
        description="Build the MDP sub-agents, generate the offline datasets, train "
        "Diffusion-QL with and without behaviour cloning (and PPO/SAC with --drl), evaluate "
        "every policy on the test split, and write OUT/report.md and OUT/results.json. "
        "Each stage's folder is named by a hash of its inputs: finished stages are skipped "
        "and an interrupted run continues where it stopped.",
    )
    p.add_argument(
        "--preset",
        choices=("quick", "paper", "tiny"),
        default="quick",
        help="quick: experiment 0, minutes on a CPU (default); paper: the reference's four "
        "experiments at full size; tiny: seconds, meaningless numbers (tests)",
    )
    add_traffic_dir(p)
    p.add_argument(
        "--out", type=OUT, default=None, help="run folder (default data/results/pipeline/PRESET)"
    )
    p.add_argument("--seed", type=seed(), default=0, help="traffic, data, training and eval seed")
    p.add_argument("--alignment", choices=("reference", "aligned"), default="reference")
    add_allocation(p)
    p.add_argument(
        "--drl",
        type=Names(("ppo", "sac", "none"), "deep-RL baseline"),
        default=None,
        help="deep-RL baselines to train too, comma-separated (ppo,sac) or 'none' "
        "(default: the preset's: none for quick, ppo,sac for paper)",
    )
    p.add_argument(
        "--compile-cache",
        type=OutDir("a folder for compiled programs, or 'none'", special=("none",)),
        default=None,
        help="folder that keeps compiled XLA programs between runs (default "
        "$JAX_COMPILATION_CACHE_DIR or ~/.cache/difsched_jax/xla; 'none': off)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run, check=check, interrupt_note=rerun_note("the finished stages"))


def check(args) -> None:
    if args.out is None:
        from difsched_jax import paths

        args.out = validated(OUT, paths.pipeline_dir(args.preset), "--out (default)")


def run(args) -> int:
    from difsched_jax.locking import hold_folder
    from difsched_jax.pipeline import run_pipeline
    from difsched_jax.pipeline.compile_cache import default_cache_dir, use_compile_cache

    drl = None
    if args.drl is not None:
        drl = tuple(a.strip() for a in args.drl.split(",") if a.strip() not in ("", "none"))
    with hold_folder(args.out):
        if args.compile_cache != "none":
            use_compile_cache(args.compile_cache or default_cache_dir())
        try:
            run_pipeline(
                args.preset,
                args.out,
                traffic_dir=args.traffic_dir,
                seed=args.seed,
                alignment=args.alignment,
                allocation=args.allocation,
                drl=drl,
                progress=not args.no_progress,
            )
        except OSError as e:  # the stages' advice is for their own commands' --resume
            if "rerun with --resume" not in str(e):
                raise
            raise OSError(e.errno, str(e).replace("rerun with --resume", CONTINUE)) from None
    return 0


CONTINUE = "run the same pipeline command again (it continues from its finished stages)"
