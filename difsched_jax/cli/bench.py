"""`difsched bench`: every benchmark script, one benchmarks.json and BENCHMARKS.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from difsched_jax.cli.common import add_traffic_dir, rerun_note
from difsched_jax.cli.types import InFile, Names, OutDir

# the suite lives beside its scripts, in the repository's benchmarks/ folder
SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "suite.py"


def load_suite():
    """benchmarks/suite.py as a module (the suite runs from a clone of the repository)."""
    if not SUITE.is_file():
        raise ValueError(
            f"no benchmark suite at {SUITE}: run `difsched bench` from a clone of the repository"
        )
    spec = importlib.util.spec_from_file_location("difsched_benchmarks_suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add(sub) -> None:
    scripts = sorted(load_suite().SCRIPTS) if SUITE.is_file() else []
    p = sub.add_parser(
        "bench",
        help="run every benchmark script; write benchmarks.json and BENCHMARKS.md",
        description="Runs each script in benchmarks/ in its own process (medians after "
        "warm-up, compile time apart), merges their JSON into OUT/benchmarks.json and writes "
        "OUT/BENCHMARKS.md with the headline ratios, scaling and multi-device tables and plots.",
    )
    p.add_argument("--quick", action="store_true", help="short runs (under 5 minutes on 2 cores)")
    p.add_argument(
        "--out",
        type=OutDir("a benchmark output folder"),
        default="bench_out",
        help="output folder (default bench_out)",
    )
    add_traffic_dir(p)
    p.add_argument(
        "--only",
        type=Names(scripts, "benchmark"),
        default=None,
        help="comma-separated script names, e.g. oracle.py",
    )
    p.add_argument(
        "--readme",
        type=InFile("a README with a performance table", write=True),
        default=None,
        help="also rewrite this README's performance table",
    )
    p.add_argument(
        "--report-only", action="store_true", help="rewrite the report from existing JSON files"
    )
    p.set_defaults(run=run, interrupt_note=rerun_note("the sections' files finished so far"))


def run(args) -> int:
    bench_suite = load_suite()

    if args.report_only:
        payload = bench_suite.write_report(args.out, quick=args.quick, traffic_dir=args.traffic_dir)
    else:
        only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
        payload = bench_suite.run_suite(args.out, args.quick, args.traffic_dir, only)
    if args.readme:
        bench_suite.update_readme(args.readme, payload)
        print(f"updated the performance table of {args.readme}")
    failed = [name for name, run in payload["runs"].items() if run["status"].startswith("failed")]
    return 1 if failed else 0
