"""Offline dataset generation throughput and peak memory (SPEC §4, issue 4).

    python benchmarks/dataset_gen.py [--quick] [--out DIR] [--traffic-dir DIR]

For dataset configs 0 (8 users) and 1 (20 users) at several slice counts S:
`generate_dataset` end to end (jitted chunks, shards written to a temporary
folder, checksums, meta.json), each point in a fresh process so its peak RSS
(``ru_maxrss``) is its own. ``transitions_per_s`` excludes compilation: a first
run of one chunk compiles, then the timed run of T windows reuses it.

Against it, in the same run, the reference-style loop: the same generation
(MDP lookup, random-order budget rule, binomial losses, cursors, records) as a
per-window NumPy loop over one slice, capped at a few thousand windows and
extrapolated (it is linear in S x T). The reference itself took 41 s (config 0)
and 92 s (config 1) for 10,000 windows on this machine (quoted, not rerun).
Writes ``dataset_gen.json`` and ``dataset_gen.png``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import parser, write_json  # noqa: E402

REFERENCE_SECONDS = {0: 41.0, 1: 92.0}  # per 10,000 windows of one slice (issue 4)


def _inputs(idx: int, traffic_dir: str | None):
    from difsched_jax.config import get_dataset_config
    from difsched_jax.data.policy import behaviour_policies
    from difsched_jax.traffic import load_trace

    cfg = get_dataset_config(idx)
    trace = load_trace(cfg.flow, cfg.window, traffic_dir)
    return cfg, trace, behaviour_policies(cfg, traffic_dir)[0]


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def point_jax(idx: int, slices: int, windows: int, traffic_dir: str | None) -> dict:
    """One measurement of `generate_dataset` (run in its own process)."""
    from difsched_jax.data import generate_dataset
    from difsched_jax.data.generate import default_chunk_windows

    cfg, trace, policies = _inputs(idx, traffic_dir)
    chunk = default_chunk_windows(slices, windows, cfg.num_users, cfg.window)
    kw = dict(num_slices=slices, episode_len=1000, chunk_windows=chunk, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generate_dataset(os.path.join(tmp, "warm"), cfg, trace, policies, num_windows=chunk, **kw)
        compile_s = time.perf_counter() - t0
        summary = generate_dataset(
            os.path.join(tmp, "run"), cfg, trace, policies, num_windows=windows, **kw
        )
    return {
        "impl": "jax",
        "config": idx,
        "slices": slices,
        "windows": windows,
        "chunk_windows": chunk,
        "transitions": summary["transitions"],
        "seconds": summary["seconds"],
        "transitions_per_s": summary["transitions_per_s"],
        "first_chunk_with_compile_s": compile_s,
        "bytes_written": summary["bytes"],
        "peak_rss_mib": _peak_rss_mib(),
    }


def numpy_loop(idx: int, windows: int, traffic_dir: str | None, seed: int = 0) -> dict:
    """The same generation for one slice as a per-window NumPy loop; returns timing."""
    import numpy as np

    cfg, trace, policies = _inputs(idx, traffic_dir)
    p = policies[0][1]
    amap, table = np.asarray(p.aggregation_map), np.asarray(p.state_action)  # (G, L+1), (G, K^n, n)
    place, users = np.asarray(p.place_values), np.asarray(p.users)  # (n,), (G, n)
    actual, observed = (np.floor(a).astype(np.int64) for a in trace.split("train"))
    pairs = np.asarray(cfg.sigmoid_pairs)
    rng = np.random.default_rng(seed)
    n, budget, length, groups = cfg.num_users, cfg.budget, actual.shape[0], np.arange(len(users))
    rec = {k: [] for k in ("obs", "action", "loss", "next_obs", "actual", "episode_start")}
    t0 = time.perf_counter()
    for t in range(windows):
        if t % 1000 == 0:  # reset: cursors uniform in [0, T-2], first state the entry after
            cursors = (rng.integers(0, length - 1, n) + 1) % length
        obs, counts = observed[cursors], actual[cursors]
        r = np.zeros(n)
        r[users.ravel()] = table[groups, amap[groups[:, None], obs[users]] @ place].ravel()
        order = rng.permutation(n)  # budget rule: random order, each takes what remains
        before = np.cumsum(r[order]) - r[order]
        granted = np.empty(n)
        granted[order] = np.minimum(r[order], np.maximum(budget - before, 0.0))
        k, s = pairs[rng.integers(len(pairs))]
        success = 1.0 / (1.0 + np.exp(-k * (np.clip(np.ceil(granted), 0, budget - 1) - s)))
        lost = rng.binomial(counts, 1.0 - success)
        cursors = (cursors + 1) % length
        for key, v in (("obs", obs), ("action", r), ("next_obs", observed[cursors]),
                       ("actual", counts), ("episode_start", t % 1000 == 0),
                       ("loss", lost.sum() / max(counts.sum(), 1))):  # fmt: skip
            rec[key].append(v)
    seconds = time.perf_counter() - t0
    return {
        "impl": "numpy_loop",
        "config": idx,
        "windows_run": windows,
        "seconds": seconds,
        "transitions_per_s": windows / seconds,
        "seconds_per_10k_windows": seconds * 10_000 / windows,
        "mean_loss": float(np.mean(rec["loss"])),
        "peak_rss_mib": _peak_rss_mib(),
    }


def _in_subprocess(kind: str, *args) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import dataset_gen as b; "
        f"print('RESULT' + json.dumps(b.{kind}(*json.loads(sys.argv[2]))))"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, "-c", code, here, json.dumps(list(args))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT") :])
    raise RuntimeError(f"{kind}{args} failed:\n{out.stderr[-3000:]}")


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for idx, color in ((0, "tab:blue"), (1, "tab:orange")):
        pts = [p for p in results["jax"] if p["config"] == idx]
        s = [p["slices"] for p in pts]
        ax1.plot(s, [p["transitions_per_s"] for p in pts], "o-", color=color,
                 label=f"JAX, config {idx}")  # fmt: skip
        loop = next(p for p in results["numpy_loop"] if p["config"] == idx)
        ax1.axhline(
            loop["transitions_per_s"], color=color, ls="--", label=f"NumPy loop, config {idx}"
        )
        ax1.axhline(10_000 / REFERENCE_SECONDS[idx], color=color, ls=":",
                    label=f"reference (quoted), config {idx}")  # fmt: skip
        ax2.plot(s, [p["peak_rss_mib"] for p in pts], "o-", color=color, label=f"config {idx}")
    ax1.set(xscale="log", yscale="log", xlabel="slices S", ylabel="transitions / s",
            title="dataset generation throughput")  # fmt: skip
    ax2.set(xscale="log", xlabel="slices S", ylabel="peak RSS (MiB)", title="peak memory")
    ax2.set_ylim(bottom=0)
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    args = p.parse_args()
    sizes = [16, 128] if args.quick else [64, 512, 4096]
    windows = 200 if args.quick else 1000
    loop_windows = 300 if args.quick else 3000
    results = {"jax": [], "numpy_loop": []}
    for idx in (0, 1):
        loop = _in_subprocess("numpy_loop", idx, loop_windows, args.traffic_dir)
        results["numpy_loop"].append(loop)
        print(f"config {idx} NumPy loop: {loop['transitions_per_s']:,.0f} transitions/s")
        for s in sizes:
            r = _in_subprocess("point_jax", idx, s, windows, args.traffic_dir)
            r["speedup_vs_numpy_loop"] = r["transitions_per_s"] / loop["transitions_per_s"]
            r["speedup_vs_reference"] = r["transitions_per_s"] * REFERENCE_SECONDS[idx] / 10_000
            r["numpy_loop_extrapolated_s"] = r["transitions"] / loop["transitions_per_s"]
            results["jax"].append(r)
            print(
                f"config {idx} S={s:5d}: {r['transitions_per_s']:>10,.0f} transitions/s "
                f"({r['speedup_vs_numpy_loop']:,.0f}x NumPy loop, {r['speedup_vs_reference']:,.0f}x "
                f"reference), peak RSS {r['peak_rss_mib']:,.0f} MiB"
            )
    payload = {
        "windows": windows,
        "episode_len": 1000,
        "traffic": args.traffic_dir or "synthetic",
        "reference_seconds_per_10k_windows": REFERENCE_SECONDS,
        "results": results,
    }
    write_json(args.out, "dataset_gen.json", payload)
    plot(results, os.path.join(args.out, "dataset_gen.png"))


if __name__ == "__main__":
    main()
