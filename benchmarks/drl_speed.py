"""Deep-RL training throughput: environment steps per second while PPO and SAC
train on the vectorised environment (env config 0, synthetic traffic unless
--traffic-dir), compile time apart (the first chunk is excluded).

    python benchmarks/drl_speed.py [--quick] [--out DIR] [--traffic-dir DIR]

The reference trained SAC (Stable-Baselines3) at 366 env steps/s on its
authors' machine (100,000 steps in 273 s, quoted from its notebook: PyTorch
cannot be rerun here). Writes DIR/drl_speed.json (key steps_per_s: algo ->
steps/s) and DIR/drl_speed.png.
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from difsched_jax.train import drl  # noqa: E402

REFERENCE_STEPS_PER_S = 366.0


def main():
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    a = p.parse_args()
    steps = {"ppo": 20_000 if a.quick else 100_000, "sac": 4_000 if a.quick else 30_000}
    chunk = {"ppo": 10_000, "sac": 2_000 if a.quick else 10_000}
    rows = {}
    for algo in ("ppo", "sac"):
        run = drl.make_run_config(
            algo, 0, steps=steps[algo], chunk_steps=chunk[algo], traffic_dir=a.traffic_dir
        )
        with tempfile.TemporaryDirectory() as tmp:
            summary = drl.train(run, tmp, progress=False)
        rows[algo] = summary
        print(f"{algo}: {summary['steady_steps_per_s']:,.0f} env steps/s", flush=True)
    payload = {
        "quick": a.quick,
        "env_config": 0,
        "traffic": a.traffic_dir or "synthetic",
        "steps": steps,
        "timing": "env steps / s over the chunks after the first (which compiles)",
        "reference_steps_per_s_quoted": REFERENCE_STEPS_PER_S,
        "steps_per_s": {k: v["steady_steps_per_s"] for k, v in rows.items()},
        "speedup_vs_reference_quoted": {
            k: v["steady_steps_per_s"] / REFERENCE_STEPS_PER_S for k, v in rows.items()
        },
        "runs": rows,
    }
    _common.write_json(a.out, "drl_speed.json", payload)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    names = ["SB3 SAC (reference, quoted)"] + [k.upper() for k in rows]
    values = [REFERENCE_STEPS_PER_S] + [payload["steps_per_s"][k] for k in rows]
    ax.bar(names, values, color=["grey", "tab:blue", "tab:orange"])
    ax.set(yscale="log", ylabel="env steps / s", title="deep-RL training throughput")
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "drl_speed.png"), dpi=110)


if __name__ == "__main__":
    main()
