"""Several processes: offline-dataset generation by 1, 2 and 4 local processes joined
with jax.distributed (coordinator on 127.0.0.1), each generating its share of the
slices into its own part folder, as `difsched gen-dataset --distributed` does.

    python benchmarks/multihost.py [--quick] [--out DIR] [--traffic-dir DIR]

Per point: every process compiles on a one-chunk warm-up run, then times its
share over a few runs that all processes start together (barriers); transitions/s
= all transitions / the slowest process's median seconds. startup_s is launch to barrier (Python and JAX start, joining, solving
the sub-agents, compiling). The joined dataset's arrays are hashed (SHA-256):
they must be identical for every process count. On one machine the processes
share its cores, so more processes cannot be faster: the figure shows the
overhead and the correctness of the split, not a speed-up.
Writes DIR/multihost.json and DIR/multihost.png.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

WORKER = r"""
import json, os, sys, time
t_launch = time.time()
a = json.loads(sys.argv[1])
sys.path.insert(0, a["bench_dir"])
from difsched_jax.distributed import HostSetup, initialize, wait_for_all
if a["processes"] > 1:
    initialize(HostSetup(f"127.0.0.1:{a['port']}", a["processes"], a["process_id"],
                         heartbeat_timeout=60, init_timeout=300))
import dataset_gen
from difsched_jax.data import generate_dataset
from difsched_jax.data.generate import default_chunk_windows

cfg, trace, policies = dataset_gen._inputs(a["config"], a["traffic_dir"])
share = -(-a["slices"] // a["processes"])
chunk = default_chunk_windows(share, a["windows"], cfg.num_users, cfg.window)
kw = dict(num_slices=a["slices"], episode_len=1000, chunk_windows=chunk, seed=0, progress=False,
          process_index=a["process_id"], process_count=a["processes"])
generate_dataset(os.path.join(a["tmp"], "warm"), cfg, trace, policies, num_windows=chunk, **kw)
wait_for_all("bench-warm")
startup_s = time.time() - a["launched_at"]
times = []
for r in range(a["repeats"]):  # every process starts each run together
    wait_for_all(f"bench-run-{r}")
    t0 = time.perf_counter()
    summary = generate_dataset(os.path.join(a["tmp"], f"run{r}"), cfg, trace, policies,
                               num_windows=a["windows"], **kw)
    times.append(time.perf_counter() - t0)
wait_for_all("bench-end")
seconds = sorted(times)[len(times) // 2]
print("RESULT" + json.dumps({"process_id": a["process_id"], "seconds": seconds,
                             "transitions": summary["transitions"], "startup_s": startup_s,
                             "chunk_windows": chunk}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(folder: str) -> tuple[str, float]:
    """SHA-256 over every field of the joined dataset, and its mean loss."""
    from difsched_jax.data import load_dataset

    data = load_dataset(folder).arrays()
    digest = hashlib.sha256()
    for name in sorted(data):
        digest.update(np.ascontiguousarray(data[name]).tobytes())
    return digest.hexdigest(), float(np.asarray(data["loss"], np.float64).mean())


def run_point(processes, config, slices, windows, repeats, traffic_dir) -> dict:
    """Launch `processes` workers together; aggregate their median timings."""
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        launched_at = time.time()
        procs = []
        for i in range(processes):
            args = {"processes": processes, "process_id": i, "port": port, "config": config,
                    "slices": slices, "windows": windows, "repeats": repeats,
                    "traffic_dir": traffic_dir, "tmp": tmp, "launched_at": launched_at,
                    "bench_dir": os.path.dirname(os.path.abspath(__file__))}  # fmt: skip
            procs.append(subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(args)],
                                          env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))  # fmt: skip
        rows = []
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"{processes} processes: worker {i} failed:\n{err[-3000:]}")
            line = next(x for x in out.splitlines() if x.startswith("RESULT"))
            rows.append(json.loads(line[len("RESULT") :]))
        wall_s = time.time() - launched_at
        sha, mean_loss = _digest(os.path.join(tmp, "run0"))
    transitions = sum(r["transitions"] for r in rows)
    slowest = max(r["seconds"] for r in rows)
    return {
        "processes": processes,
        "transitions": transitions,
        "seconds": slowest,
        "transitions_per_s": transitions / slowest,
        "per_process_transitions_per_s": [r["transitions"] / r["seconds"] for r in rows],
        "startup_s": max(r["startup_s"] for r in rows),
        "wall_s": wall_s,
        "chunk_windows": rows[0]["chunk_windows"],
        "sha256": sha,
        "mean_loss": mean_loss,
    }


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["processes"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(x, [r["transitions_per_s"] / 1e3 for r in rows], "o-", label="all processes")
    ax1.plot(x, [min(r["per_process_transitions_per_s"]) / 1e3 for r in rows], "s--",
             label="slowest process alone")  # fmt: skip
    ax1.set(xlabel="processes (jax.distributed)", ylabel="thousand transitions / s", xticks=x)
    ax1.set_ylim(bottom=0)
    ax1.legend(fontsize=8)
    same = len({r["sha256"] for r in rows}) == 1
    ax1.set_title("generation: data identical" if same else "generation: DATA DIFFER")
    ax2.bar(x, [r["startup_s"] for r in rows], width=0.6)
    ax2.set(xlabel="processes", ylabel="seconds", xticks=x,
            title="start-up (import, join, solve, compile)")  # fmt: skip
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{os.cpu_count()} shared CPU cores: overhead and correctness, not speed-up",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv=None) -> dict:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    p.add_argument("--processes", default="1,2,4", help="comma-separated process counts")
    a = p.parse_args(argv)
    counts = [int(c) for c in a.processes.split(",")]
    config, slices, windows = (0, 512, 500) if a.quick else (0, 4096, 1000)
    repeats = 3 if a.quick else 5
    rows = []
    for n in counts:
        row = run_point(n, config, slices, windows, repeats, a.traffic_dir)
        rows.append(row)
        print(
            f"{n} processes: {row['transitions_per_s']:,.0f} transitions/s "
            f"(start-up {row['startup_s']:.1f} s) sha256 {row['sha256'][:12]}",
            flush=True,
        )
    identical = len({r["sha256"] for r in rows}) == 1
    payload = {
        "quick": a.quick,
        "dataset_config": config,
        "slices": slices,
        "windows": windows,
        "repeats": repeats,
        "timing": "per process: median of the timed runs after a warm-up; all start together",
        "traffic": a.traffic_dir or "synthetic",
        "identical": identical,
        "rows": rows,
        "load_average": list(os.getloadavg()),
        "note": "local processes share this machine's cores: overhead and correctness",
    }
    _common.write_json(a.out, "multihost.json", payload)
    plot(rows, os.path.join(a.out, "multihost.png"))
    if not identical:
        raise SystemExit("data differ between process counts")
    return payload


if __name__ == "__main__":
    main()
