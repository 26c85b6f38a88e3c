"""One-shot accelerator check: the headline throughputs in one JSON, in minutes.

    bash benchmarks/gpu_check.sh [OUT_DIR]            (installs jax[cuda12] if needed)
    python benchmarks/gpu_check.py [--tiny] [--out DIR] [--budget S] [--traffic-dir DIR]

Every figure comes from the benchmark scripts' own functions, in this order:
  dataset_gen     dataset_gen.point_jax, in its own process: config 1 (20 users) at
                  65,536 slices, shards written to a temporary folder
  oracle          oracle.bench_config: decisions/s of the exact DP, batched
  dql             dql_speed.bench_dim: updates/s and decisions/s (1 and 256 states),
                  SPEC §5 agent, state dim 8 and 20
  env_throughput  env_throughput.bench_jax: slice-windows/s (equal share), N = 8 and 20,
                  1,024 ... 1,048,576 slices, growing while time is left
A section that would start with less than its minimum time left of --budget is
skipped and listed in "skipped" (env sizes in env_throughput.skipped). --tiny: the same code at toy
sizes on the CPU (a 2-step, width-16 agent with 2 updates per call), for the tests;
gpu_check.sh then also asks XLA for fast rather than good compilation.
Writes DIR/gpu_check.json.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import dataset_gen  # noqa: E402
import dql_speed  # noqa: E402
import env_throughput  # noqa: E402
import oracle  # noqa: E402

FULL = {
    "env_slices": [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20],
    "env_cells": 1 << 24,  # slice-windows per timed call (windows = this / slices, 10..200)
    "dataset": (1, 65_536, 200),  # config, slices, windows
    "oracle_batches": [1024, 16_384, 65_536],
    "dql_dims": [8, 20],
    "repeats": 3,
}
TINY = {
    "env_slices": [64],
    "env_cells": 320,
    "dataset": (1, 64, 10),
    "oracle_batches": [16],
    "dql_dims": [8],
    "repeats": 1,
}
MIN_SECONDS = {"dataset_gen": 60, "oracle": 30, "dql": 60, "env_throughput": 20}
ENV_RESERVE_S = 15  # the env section stops growing the slice count below this


def env_section(sizes: dict, traffic_dir, left=lambda: math.inf) -> dict:
    """Sizes in increasing order while more than ENV_RESERVE_S seconds are left."""
    from difsched_jax.config import get_env_config
    from difsched_jax.env import make_env
    from difsched_jax.traffic import load_trace

    out = {"slice_windows_per_s": {}, "compile_s": {}, "windows_per_call": {}, "skipped": []}
    for users, cfg_idx in env_throughput.ENV_CONFIGS.items():
        cfg = get_env_config(cfg_idx)
        spec, params = make_env(cfg, load_trace(cfg.flow, cfg.window, traffic_dir), "test")
        for s in sizes["env_slices"]:
            if left() < ENV_RESERVE_S:
                out["skipped"].append(f"N={users} S={s} ({left():.0f} s left)")
                continue
            windows = int(min(200, max(10, sizes["env_cells"] // s)))
            rate, compile_s = env_throughput.bench_jax(
                spec, params, cfg.budget, s, windows, sizes["repeats"]
            )
            for key, value in (("slice_windows_per_s", rate), ("compile_s", compile_s),
                               ("windows_per_call", windows)):  # fmt: skip
                out[key].setdefault(str(users), {})[str(s)] = value
            print(f"env N={users} S={s}: {rate:,.0f} slice-windows/s", flush=True)
    return out


def dataset_section(sizes: dict, traffic_dir) -> dict:
    config, slices, windows = sizes["dataset"]
    row = dataset_gen._in_subprocess("point_jax", config, slices, windows, traffic_dir)
    print(f"dataset config {config} S={slices}: {row['transitions_per_s']:,.0f} transitions/s")
    return row


def oracle_section(sizes: dict) -> dict:
    rng = np.random.default_rng(0)
    rows, numpy_rows = [], []
    for env_index in (0, 1):  # N=8/B=100 and N=20/B=200
        r, n = oracle.bench_config(env_index, sizes["oracle_batches"], sizes["repeats"], 2, rng)
        rows += r
        numpy_rows.append(n)
    best = {}
    for r in rows:
        best[str(r["users"])] = max(best.get(str(r["users"]), 0.0), r["decisions_per_s"])
    return {"rows": rows, "numpy": numpy_rows, "best_decisions_per_s": best}


@contextlib.contextmanager
def _tiny_agent():
    """bench_dim's own code on a toy agent (the CPU dry run only)."""
    config, per_call = dql_speed.DQLConfig, dql_speed.UPDATES_PER_CALL

    class Tiny:
        @staticmethod
        def with_bc(n, **kw):
            small = dict(num_steps=2, hidden=16, t_dim=16, num_critics=2, user_hidden=8)
            return config.with_bc(n, **kw).replace(**small)

    dql_speed.DQLConfig, dql_speed.UPDATES_PER_CALL = Tiny, 2
    try:
        yield
    finally:
        dql_speed.DQLConfig, dql_speed.UPDATES_PER_CALL = config, per_call


def dql_section(sizes: dict, tiny: bool) -> dict:
    keys = ("updates_per_s", "decisions_per_s_single", "decisions_per_s_batch256", "compile_s")
    out = {}
    with _tiny_agent() if tiny else contextlib.nullcontext():
        for dim in sizes["dql_dims"]:
            row = dql_speed.bench_dim(dim, "float32", sizes["repeats"])
            out[str(dim)] = {k: row[k] for k in keys}
        out["updates_per_call"] = dql_speed.UPDATES_PER_CALL
    out["agent"] = "toy (2 steps, width 16, 2+2 critics)" if tiny else "SPEC §5 (T 30, 8+8 critics)"
    return out


def run(tiny: bool, budget_s: float, traffic_dir=None) -> dict:
    import jax

    sizes = TINY if tiny else FULL
    t_start = time.perf_counter()
    left = lambda: budget_s - (time.perf_counter() - t_start)  # noqa: E731
    sections = {  # the env section last: it adapts its sizes to the time left
        "dataset_gen": lambda: dataset_section(sizes, traffic_dir),
        "oracle": lambda: oracle_section(sizes),
        "dql": lambda: dql_section(sizes, tiny),
        "env_throughput": lambda: env_section(sizes, traffic_dir, left),
    }
    payload = {"tiny": tiny, "budget_s": budget_s, "device_kind": jax.devices()[0].device_kind}
    payload.update(sizes=sizes, section_s={}, skipped=[])
    for name, section in sections.items():
        if left() < MIN_SECONDS[name] and not tiny:
            payload["skipped"].append(f"{name} ({left():.0f} s of the budget left)")
            continue
        t0 = time.perf_counter()
        payload[name] = section()
        payload["section_s"][name] = round(time.perf_counter() - t0, 1)
    payload["wall_s"] = round(time.perf_counter() - t_start, 1)
    payload["headline"] = headline(payload)
    return payload


def headline(p: dict) -> dict:
    """One number per figure (None where the section was skipped)."""
    env = p.get("env_throughput", {}).get("slice_windows_per_s", {})
    dql = p.get("dql", {})
    dims = [d for d in dql if d.isdigit()]
    return {
        "env_slice_windows_per_s_max": {u: max(v.values()) for u, v in env.items()} or None,
        "dataset_transitions_per_s": p.get("dataset_gen", {}).get("transitions_per_s"),
        "oracle_decisions_per_s_best": p.get("oracle", {}).get("best_decisions_per_s"),
        "dql_updates_per_s": {d: dql[d]["updates_per_s"] for d in dims} or None,
        "dql_decisions_per_s_batch256": {d: dql[d]["decisions_per_s_batch256"] for d in dims}
        or None,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench_out", help="folder for gpu_check.json")
    p.add_argument("--tiny", action="store_true", help="CPU dry run at toy sizes (tests)")
    p.add_argument("--budget", type=float, default=420.0, help="seconds for all sections")
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    a = p.parse_args(argv)
    if not (math.isfinite(a.budget) and a.budget > 0):
        raise SystemExit(f"--budget must be a positive number of seconds, got {a.budget}")
    payload = run(a.tiny, a.budget, a.traffic_dir)
    _common.write_json(a.out, "gpu_check.json", payload)
    return payload


if __name__ == "__main__":
    main()
