"""Multi-device: offline-dataset generation with the slice axis sharded over
1, 2, 4, 8 devices. Shows that the data are identical (SHA-256 of every
recorded field) and how throughput changes.

    python benchmarks/multidevice.py [--quick] [--out DIR] [--traffic-dir DIR]

On a CPU the devices are simulated with
XLA_FLAGS=--xla_force_host_platform_device_count=N (one subprocess per N); they
share the machine's cores, so on a 2-core CPU more devices cannot be faster:
the figure checks that sharding costs little and changes nothing. On a machine
with N real accelerators (--real) the local devices are used as they are.
Writes DIR/multidevice.json and DIR/multidevice.png.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

WORKER = r"""
import hashlib, json, sys, tempfile, time
import jax
import numpy as np
from difsched_jax.config import get_dataset_config
from difsched_jax.data import load_dataset
from difsched_jax.data.generate import generate_dataset
from difsched_jax.data.policy import behaviour_policies
from difsched_jax.traffic import load_trace

cfg_idx, slices, windows, devices, traffic_dir = json.loads(sys.argv[1])
config = get_dataset_config(cfg_idx)
trace = load_trace(config.flow, config.window, traffic_dir)
policies, _ = behaviour_policies(config, traffic_dir)
runs = []
with tempfile.TemporaryDirectory() as tmp:
    for attempt in range(2):  # the first run includes compilation
        out = f"{tmp}/ds{attempt}"
        t0 = time.perf_counter()
        summary = generate_dataset(out, config, trace, policies, num_slices=slices,
                                   num_windows=windows, chunk_windows=windows, seed=0,
                                   progress=False, devices=devices)
        runs.append(time.perf_counter() - t0)
    ds = load_dataset(out)
    digest = hashlib.sha256()
    data = ds.arrays()
    for name in sorted(data):
        digest.update(np.ascontiguousarray(data[name]).tobytes())
    mean_loss = float(np.asarray(data["loss"], np.float64).mean())
print(json.dumps({"devices": len(jax.devices()) if devices is None else devices,
                  "first_run_s": runs[0], "seconds": runs[1],
                  "transitions_per_s": summary["transitions"] / runs[1],
                  "sha256": digest.hexdigest(), "mean_loss": mean_loss}))
"""


def run_worker(num_devices, cfg_idx, slices, windows, traffic_dir, real):
    env = dict(os.environ)
    if not real:
        flags = env.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={num_devices}".strip()
        env["JAX_PLATFORMS"] = "cpu"
    args = json.dumps([cfg_idx, slices, windows, num_devices, traffic_dir])
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, args], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker with {num_devices} devices failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    x = [r["devices"] for r in rows]
    ax.plot(x, [r["transitions_per_s"] / 1e3 for r in rows], "o-")
    ax.set(xlabel="devices (slice axis sharded)", ylabel="thousand transitions / s", xticks=x)
    same = len({r["sha256"] for r in rows}) == 1
    ax.set_title("dataset generation: data identical" if same else "DATA DIFFER")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    p = _common.parser(__doc__)
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    p.add_argument("--real", action="store_true", help="use the real local devices")
    a = p.parse_args()
    counts = (1, 2, 4, 8)
    slices, windows, cfg_idx = (512, 200, 0) if a.quick else (4096, 1000, 0)
    rows = []
    for n in counts:
        row = run_worker(n, cfg_idx, slices, windows, a.traffic_dir, a.real)
        rows.append(row)
        print(
            f"{n} devices: {row['transitions_per_s']:,.0f} transitions/s "
            f"(first run {row['first_run_s']:.1f} s) sha256 {row['sha256'][:12]}",
            flush=True,
        )
    identical = len({r["sha256"] for r in rows}) == 1
    payload = {
        "quick": a.quick,
        "dataset_config": cfg_idx,
        "slices": slices,
        "windows": windows,
        "simulated_devices": not a.real,
        "identical": identical,
        "rows": rows,
        "note": "devices simulated on the CPU share its cores" if not a.real else "real devices",
    }
    _common.write_json(a.out, "multidevice.json", payload)
    plot(rows, os.path.join(a.out, "multidevice.png"))
    if not identical:
        raise SystemExit("data differ between device counts")


if __name__ == "__main__":
    main()
