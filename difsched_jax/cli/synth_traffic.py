"""`difsched synth-traffic`: the synthetic traces as {flow}_window{L}.npz files."""

from __future__ import annotations

import os

from difsched_jax.cli.common import validated
from difsched_jax.cli.types import Int, Names, OutDir, seed

OUT = OutDir("a folder for {flow}_window{L}.npz traces")


def add(sub) -> None:
    from difsched_jax.traffic import PRESETS

    p = sub.add_parser(
        "synth-traffic",
        help="write the synthetic traces as {flow}_window{L}.npz files (for --traffic-dir)",
        description="The built-in synthetic traffic, written in the reference's trace format. "
        "`--traffic-dir` on that folder gives the same data as the synthetic default.",
    )
    p.add_argument(
        "--flows",
        type=Names(sorted(PRESETS), "synthetic preset"),
        default="thumb_fr,thumb_bk",
        help="comma-separated presets",
    )
    p.add_argument(
        "--window", type=Int(1, what="window length"), default=200, help="window length L (samples)"
    )
    p.add_argument("--seed", type=seed(), default=0, help="seed of the synthetic traffic")
    p.add_argument("--out", type=OUT, default=None, help="folder (default data/processed/traffic)")
    p.set_defaults(run=run, check=check)


def check(args) -> None:
    if args.out is None:
        from difsched_jax import paths

        args.out = validated(OUT, paths.traffic_dir(), "--out (default)")


def run(args) -> int:
    from difsched_jax.traffic import synthetic_trace, trace_filename

    flows = [f.strip() for f in args.flows.split(",") if f.strip()]
    traces = [synthetic_trace(flow, window=args.window, seed=args.seed) for flow in flows]
    os.makedirs(args.out, exist_ok=True)
    for flow, trace in zip(flows, traces):
        path = os.path.join(args.out, trace_filename(flow, args.window))
        trace.save(path)
        print(
            f"wrote {path}: {trace.train_actual.size} train + {trace.test_actual.size} test windows"
        )
    return 0
