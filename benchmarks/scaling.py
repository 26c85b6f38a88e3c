"""Scaling: cost per slice-window as slices grow (1 -> 16,384) and as users per
slice grow (4 -> 80), for the environment driven by equal-share, MDP and oracle
policies, each against the vectorised NumPy implementation of the same
environment and policy in the same run; compile time and XLA's memory estimate
(arguments + outputs + temporaries of the compiled rollout) per size.

    python benchmarks/scaling.py [--quick] [--out DIR] [--traffic-dir DIR]

Writes DIR/scaling.json and DIR/scaling.png. Budget grows with users as
B = 12.5 N rounded (8 users -> 100, the reference's); channel pairs are the
expanded sigmoid list; synthetic thumb_fr traffic unless --traffic-dir.
"""

from __future__ import annotations

import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from difsched_jax.agents import heuristics  # noqa: E402
from difsched_jax.agents.mdp.io import training_counts  # noqa: E402
from difsched_jax.agents.mdp.policy import mdp_act, mdp_policy_params  # noqa: E402
from difsched_jax.agents.mdp.solve import timed_solve  # noqa: E402
from difsched_jax.config import EXPANDED_SIGMOID_K, EnvConfig, get_subagent_config  # noqa: E402
from difsched_jax.env import init_carry, make_env, run_windows  # noqa: E402
from difsched_jax.env.numpy_reference import VectorizedSlices, reference_args  # noqa: E402
from difsched_jax.traffic import load_trace  # noqa: E402

POLICIES = ("equal", "mdp", "oracle")
_run = jax.jit(run_windows, static_argnames=("policy", "spec", "num_windows"))


def slice_config(users: int) -> EnvConfig:
    return EnvConfig(
        num_users=users,
        budget=int(round(12.5 * users)),
        flow="thumb_fr",
        sigmoid_k=EXPANDED_SIGMOID_K,
        sub_agents=((0,) * (users // 4),),
    )


def jax_policy(name: str, config: EnvConfig, solution):
    if name == "equal":
        return heuristics.equal_share, heuristics.heuristic_params(config.budget)
    if name == "oracle":
        return heuristics.oracle, heuristics.oracle_params(
            config.budget, config.sigmoid_k, config.sigmoid_s
        )
    return mdp_act, mdp_policy_params([solution] * len(config.user_map), config.user_map)


def numpy_policy(name: str, config: EnvConfig, solution):
    """The same policy for (S, N) observed counts, in NumPy."""
    n, budget = config.num_users, config.budget
    if name == "equal":
        return lambda obs: np.full(obs.shape, budget / n)
    if name == "oracle":
        gain = np.asarray(
            heuristics.oracle_params(budget, config.sigmoid_k, config.sigmoid_s).gain, np.float64
        )
        return lambda obs: np.stack([heuristics.oracle_allocation_numpy(gain, o) for o in obs])
    amap = np.asarray(solution.aggregation_map)
    rows = np.asarray(solution.action_table)[np.asarray(solution.policy)]  # (K^n, n)
    place = 4 ** np.arange(3, -1, -1)

    def act(obs):
        bins = amap[obs.reshape(obs.shape[0], -1, 4)]  # (S, G, 4)
        return rows[bins @ place].reshape(obs.shape)

    return act


def measure_jax(policy, pparams, spec, params, slices, windows, repeats):
    carry = _common.block(init_carry(jax.random.key(0), params, spec, slices))
    t0 = time.perf_counter()
    compiled = _run.lower(policy, pparams, params, spec, carry, windows).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    call = lambda: compiled(pparams, params, carry)  # static args are baked in
    seconds = _common.time_call(call, repeats=repeats, warmup=1)
    mem_bytes = None
    if mem is not None:
        mem_bytes = int(
            mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
        )
    return {
        "us_per_slice_window": 1e6 * seconds / (slices * windows),
        "compile_s": compile_s,
        "xla_memory_mib": None if mem_bytes is None else mem_bytes / 2**20,
    }


def measure_numpy(act, ref_args, slices, windows, repeats):
    env = VectorizedSlices(ref_args, slices, seed=0)

    def call():
        obs = env.obs
        for _ in range(windows):
            obs, _, _, _ = env.step(act(obs))

    seconds = _common.time_call(call, repeats=repeats, warmup=0)
    return 1e6 * seconds / (slices * windows)


def run_point(name, users, slices, windows, repeats, trace, solution, numpy_cap):
    config = slice_config(users)
    spec, params = make_env(config, trace, "test", "predicted", episode_len=1000)
    policy, pparams = jax_policy(name, config, solution)
    row = {"policy": name, "users": users, "budget": config.budget, "slices": slices}
    row.update(measure_jax(policy, pparams, spec, params, slices, windows, repeats))
    # NumPy: capped work per point (the oracle's NumPy DP is one slice at a time)
    np_slices = min(slices, numpy_cap[name])
    np_windows = max(1, min(windows, 20_000 // np_slices))
    row["numpy_us_per_slice_window"] = measure_numpy(
        numpy_policy(name, config, solution),
        reference_args(params, spec),
        np_slices,
        np_windows,
        repeats=max(1, repeats // 2),
    )
    row["numpy_slices_timed"] = np_slices
    row["speedup_vs_numpy"] = row["numpy_us_per_slice_window"] / row["us_per_slice_window"]
    print(
        f"{name:7s} N={users:3d} S={slices:6d}: {row['us_per_slice_window']:.3f} us/slice-window "
        f"(numpy {row['numpy_us_per_slice_window']:.2f}, x{row['speedup_vs_numpy']:.1f}), "
        f"compile {row['compile_s']:.2f} s",
        flush=True,
    )
    return row


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name in POLICIES:
        rows = [r for r in result["by_slices"] if r["policy"] == name]
        x = [r["slices"] for r in rows]
        (line,) = axes[0].loglog(
            x, [r["us_per_slice_window"] for r in rows], "o-", label=f"JAX {name}"
        )
        axes[0].loglog(
            x,
            [r["numpy_us_per_slice_window"] for r in rows],
            "x--",
            color=line.get_color(),
            label=f"NumPy {name}",
        )
        rows = [r for r in result["by_users"] if r["policy"] == name]
        x = [r["users"] for r in rows]
        (line,) = axes[1].loglog(
            x, [r["us_per_slice_window"] for r in rows], "o-", label=f"JAX {name}"
        )
        axes[1].loglog(
            x, [r["numpy_us_per_slice_window"] for r in rows], "x--", color=line.get_color()
        )
        rows = [r for r in result["by_slices"] if r["policy"] == name]
        axes[2].semilogx(
            [r["slices"] for r in rows], [r["compile_s"] for r in rows], "o-", label=name
        )
    axes[0].set(
        xlabel="slices", ylabel="µs per slice-window", title=f"{result['users_fixed']} users"
    )
    axes[1].set(
        xlabel="users per slice",
        ylabel="µs per slice-window",
        title=f"{result['slices_fixed']} slices",
    )
    axes[2].set(xlabel="slices", ylabel="compile s", title="compile time")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    p = _common.parser(__doc__)
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    a = p.parse_args()
    quick = a.quick
    slices_list = (1, 256, 4096) if quick else (1, 16, 256, 1024, 4096, 16384)
    users_list = (4, 20) if quick else (4, 8, 20, 40, 80)
    windows = 10 if quick else 50
    repeats = 2 if quick else 5
    slices_fixed, users_fixed = (256 if quick else 1024), 8
    numpy_cap = {"equal": 4096, "mdp": 4096, "oracle": 8 if quick else 32}

    trace = load_trace("thumb_fr", 200, a.traffic_dir)
    sub = get_subagent_config(0)
    counts, _ = training_counts(sub.flow, sub.window, a.traffic_dir, 0)
    solution, _ = timed_solve(counts, sub)

    by_slices = [
        run_point(name, users_fixed, s, windows, repeats, trace, solution, numpy_cap)
        for name in POLICIES
        for s in slices_list
    ]
    by_users = [
        run_point(name, n, slices_fixed, windows, repeats, trace, solution, numpy_cap)
        for name in POLICIES
        for n in users_list
    ]
    result = {
        "quick": quick,
        "windows_per_call": windows,
        "users_fixed": users_fixed,
        "slices_fixed": slices_fixed,
        "budget_rule": "B = round(12.5 N)",
        "traffic": a.traffic_dir or "synthetic",
        "timing": "median after a warm-up call; compile_s = lower + compile",
        "memory": "xla_memory_mib: XLA memory analysis of the compiled rollout "
        "(arguments + outputs + temporaries)",
        "numpy_note": "vectorised NumPy env + the same policy in NumPy; the oracle's NumPy DP "
        "runs slice by slice on at most numpy_slices_timed slices",
        "by_slices": by_slices,
        "by_users": by_users,
    }
    _common.write_json(a.out, "scaling.json", result)
    plot(result, os.path.join(a.out, "scaling.png"))


if __name__ == "__main__":
    main()
