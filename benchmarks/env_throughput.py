"""Environment throughput: slice-windows per second of the JAX env (equal-share
policy) against the plain NumPy loop reference and a vectorised NumPy version
of the same model, in the same run.

    python benchmarks/env_throughput.py [--quick] [--out DIR] [--traffic-dir DIR]

Writes DIR/env_throughput.json (keys jax, numpy_loop, numpy_vectorized: users ->
slices -> windows/s; speedup_vs_numpy_loop / speedup_vs_numpy_vectorized at
the largest slice count, per N; compile_s; random_policy: the same at 4096
slices with uniform random requests, the worst case) and DIR/env_throughput.png.
With equal share no slice is ever over budget, so both the JAX rollout and the
vectorised NumPy skip the budget rule there.
Timings are medians after a warm-up call; compile time (first call) is separate.
"""

from __future__ import annotations

import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from difsched_jax.agents.heuristics import (  # noqa: E402
    equal_share,
    heuristic_params,
    random_policy,
)
from difsched_jax.config import get_env_config  # noqa: E402
from difsched_jax.env import init_carry, make_env, run_windows  # noqa: E402
from difsched_jax.env.numpy_reference import (  # noqa: E402
    ReferenceSlice,
    VectorizedSlices,
    reference_args,
)
from difsched_jax.traffic import load_trace  # noqa: E402

ENV_CONFIGS = {8: 0, 20: 1}  # users -> env config (8/100 and 20/200, expanded sigmoid list)
SLICES = (1, 64, 1024, 4096)

_run = jax.jit(run_windows, static_argnames=("policy", "spec", "num_windows"))


def bench_jax(spec, params, budget, num_slices, num_windows, repeats, policy=equal_share):
    """(windows/s, compile seconds) of `run_windows` with a heuristic policy."""
    hp = heuristic_params(budget)
    carry = _common.block(init_carry(jax.random.key(0), params, spec, num_slices))
    call = lambda: _run(policy, hp, params, spec, carry, num_windows)
    compile_s = _common.time_compile(call)
    seconds = _common.time_call(call, repeats=repeats, warmup=1)
    return num_slices * num_windows / seconds, compile_s


def bench_numpy_vectorized(args, budget, num_slices, num_windows, repeats, random=False):
    env = VectorizedSlices(args, num_slices, seed=0)
    shape = (num_slices, args["num_users"])
    rng = np.random.default_rng(0)
    r = np.full(shape, budget / args["num_users"])

    def call():
        for _ in range(num_windows):
            env.step(rng.random(shape) * budget if random else r)

    seconds = _common.time_call(call, repeats=repeats, warmup=1)
    return num_slices * num_windows / seconds


def bench_numpy_loop(args, budget, num_windows, repeats):
    """Windows/s of one reference slice (S slices run one after another: same rate)."""
    env = ReferenceSlice(**args, seed=0)
    r = np.full(args["num_users"], budget / args["num_users"])

    def call():
        for _ in range(num_windows):
            env.step(r)

    return num_windows / _common.time_call(call, repeats=repeats, warmup=1)


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(result["jax"]), figsize=(5 * len(result["jax"]), 4))
    for ax, users in zip(np.atleast_1d(axes), result["jax"]):
        for name, style, label in (
            ("jax", "o-", "JAX (jit + vmap + scan)"),
            ("numpy_vectorized", "s--", "NumPy vectorised"),
            ("numpy_loop", "x:", "NumPy slot loop (one slice, extrapolated)"),
        ):
            series = result[name][users]
            xs = [int(s) for s in series]
            ax.plot(xs, [series[s] for s in series], style, label=label)
        ax.set(xscale="log", yscale="log", xlabel="slices", ylabel="slice-windows / s")
        ax.set_title(f"N = {users} users")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv=None) -> dict:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    a = p.parse_args(argv)
    quick = a.quick
    repeats = 3 if quick else 7
    jax_windows = 50 if quick else 200
    loop_windows = 10 if quick else 100
    t_start = time.perf_counter()
    result = {k: {} for k in ("jax", "numpy_loop", "numpy_vectorized", "compile_s")}
    for users, cfg_idx in ENV_CONFIGS.items():
        cfg = get_env_config(cfg_idx)
        trace = load_trace(cfg.flow, cfg.window, a.traffic_dir)
        spec, params = make_env(cfg, trace, split="test", obs="predicted")
        args = reference_args(params, spec)
        key = str(users)
        for name in result:
            result[name][key] = {}
        loop_rate = bench_numpy_loop(args, cfg.budget, loop_windows, repeats)
        for s in SLICES:
            rate, compile_s = bench_jax(spec, params, cfg.budget, s, jax_windows, repeats)
            # Keep each NumPy timing call around a second at most.
            vec_windows = max(2, min(jax_windows, 20_000 // s))
            vec_rate = bench_numpy_vectorized(args, cfg.budget, s, vec_windows, repeats)
            result["jax"][key][str(s)] = rate
            result["compile_s"][key][str(s)] = compile_s
            result["numpy_vectorized"][key][str(s)] = vec_rate
            result["numpy_loop"][key][str(s)] = loop_rate
            print(
                f"N={users:2d} S={s:5d}  jax {rate:12,.0f}  numpy_vec {vec_rate:12,.0f}  "
                f"numpy_loop {loop_rate:8,.0f} windows/s  (compile {compile_s:.1f} s)"
            )
    # Worst case for both: uniform random requests (the budget rule in nearly
    # every window, grid rows all over the loss tables).
    result["random_policy"] = {"jax": {}, "numpy_vectorized": {}, "slices": SLICES[-1]}
    for users, cfg_idx in ENV_CONFIGS.items():
        cfg = get_env_config(cfg_idx)
        spec, params = make_env(cfg, load_trace(cfg.flow, cfg.window, a.traffic_dir))
        s = SLICES[-1]
        rate, _ = bench_jax(spec, params, cfg.budget, s, jax_windows, repeats, random_policy)
        vec_rate = bench_numpy_vectorized(
            reference_args(params, spec), cfg.budget, s, 4, repeats, random=True
        )
        result["random_policy"]["jax"][str(users)] = rate
        result["random_policy"]["numpy_vectorized"][str(users)] = vec_rate
        print(
            f"N={users:2d} S={s:5d} random policy: jax {rate:12,.0f}  numpy_vec {vec_rate:12,.0f}"
        )
    top = str(SLICES[-1])
    result["speedup_vs_numpy_loop"] = {
        u: result["jax"][u][top] / result["numpy_loop"][u][top] for u in result["jax"]
    }
    result["speedup_vs_numpy_vectorized"] = {
        u: result["jax"][u][top] / result["numpy_vectorized"][u][top] for u in result["jax"]
    }
    result["settings"] = {
        "quick": quick,
        "policy": "equal_share",
        "env_configs": ENV_CONFIGS,
        "traffic": a.traffic_dir or "synthetic",
        "split": "test",
        "speedups_at_slices": SLICES[-1],
        "jax_windows_per_call": jax_windows,
        "repeats": repeats,
        "timing": "median wall time after one warm-up call; compile_s = first call",
        "numpy_loop_note": (
            f"measured on one slice for {loop_windows} windows per call; slices run one after "
            "another, so its windows/s is extrapolated as the same for every slice count"
        ),
        "numpy_vectorized_windows_per_call": "max(2, min(jax_windows, 20000 // slices))",
    }
    result["wall_s"] = time.perf_counter() - t_start
    _common.write_json(a.out, "env_throughput.json", result)
    plot(result, os.path.join(a.out, "env_throughput.png"))
    for u in result["jax"]:
        print(
            f"N={u}: x{result['speedup_vs_numpy_loop'][u]:,.0f} vs numpy loop, "
            f"x{result['speedup_vs_numpy_vectorized'][u]:.2f} vs numpy vectorized (S={top})"
        )
    return result


if __name__ == "__main__":
    main()
