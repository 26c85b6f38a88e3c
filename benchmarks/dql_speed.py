"""Diffusion-QL speed: updates/s and decisions/s of the JAX agent (SPEC §5 settings:
batch 100, 8+8 critics, T = 30), for state/action dim 8 and 20.

    python benchmarks/dql_speed.py [--quick] [--out DIR] [--matmul-dtype float32|bfloat16|both]

updates/s: `update_many` (100 updates per call, BC batch offline, critic/Q-loss batch
hybrid 75 % offline, from device replay buffers). decisions/s: `act` with 50 candidates,
greedy, η = 1, for 1 state and for a batch of 256 states (decisions = states decided).
Timings are medians of wall time after a warm-up call; compile time (first call) apart.
The machine may be shared: the JSON also records the process CPU seconds per call and
the load average, so a loaded run can be read (CPU time ≈ one core's wall time).

default_agent (the headline): the trainer's default agent (no BC), deciding as
`difsched train` runs decide (its actor alone, one DDIM sample of `sample_steps` steps),
beside the agent of the previous sessions (the critic's argmax among 10 candidates of 30
steps) and the MLP default before that: updates/s, transitions/s and decisions/s (1 state
and 256 states) per state dim (`--default-agent-only`: that block alone, in
DIR/dql_default_agent.json). The rows above it are SPEC §5's MLP agent with BC.
`--quick` measures the headline only: the default agent and SPEC §5's MLP, no roofline.

Writes DIR/dql_speed.json: updates_per_s, decisions_per_s_single,
decisions_per_s_batch256 (each keyed by state dim), compile_s (dim -> part -> s),
cpu_ms (the same per call), roofline (GFLOP per update by XLA's cost analysis, the
dense-matmul GFLOP/s XLA reaches here, the updates/s ceiling they set), reference
(the PyTorch figures), matmul_dtype; with
`--matmul-dtype both` a nested "bfloat16" block holds the same keys. And DIR/dql_speed.png.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from difsched_jax.agents.dql import (  # noqa: E402
    Batch,
    DQLConfig,
    act,
    ddim_sample,
    init_agent,
    replay_from_batch,
    update_many,
)
from difsched_jax.agents.dql.agent import _update  # noqa: E402

DIMS = {8: 100.0, 20: 200.0}  # users -> budget (env configs 0/2 and 1/3)
# the reference PyTorch code on this 2-core CPU (issue 5); targets 10x / 20x
REFERENCE = {
    "updates_per_s": 17.8,
    "decisions_per_s_single": 53.0,
    "decisions_per_s_batch256": 100.0,
}
TARGET = {"updates_per_s": 178.0, "decisions_per_s_batch256": 2000.0}
UPDATES_PER_CALL = 100


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_per_call(fn, repeats: int) -> float:
    c0 = _cpu_s()
    for _ in range(repeats):
        _common.block(fn())
    return (_cpu_s() - c0) / repeats


def _buffers(dim: int, n: int = 10_000):
    ks = jax.random.split(jax.random.PRNGKey(0), 5)
    u = lambda k: jax.random.uniform(k, (n, dim), minval=-1.0, maxval=1.0)  # noqa: E731
    r = jnp.full((n,), 0.7)
    done = jnp.zeros((n,))
    offline = replay_from_batch(Batch(u(ks[0]), u(ks[1]), r, u(ks[2]), done))
    online = replay_from_batch(Batch(u(ks[3]), u(ks[4]), r, u(ks[0]), done))
    return offline, online


def bench_dim(dim: int, matmul_dtype: str, repeats: int) -> dict:
    cfg = DQLConfig.with_bc(dim, budget=DIMS[dim], matmul_dtype=matmul_dtype)
    key = jax.random.PRNGKey(1)
    agent = _common.block(init_agent(key, cfg))
    offline, online = _buffers(dim)
    obs = offline.data.obs[:256]
    calls = {
        "update_many": lambda: update_many(
            agent, offline, key, UPDATES_PER_CALL, online=online, offline_share=0.75
        ),
        "act_single": lambda: act(agent, key, obs[:1], 50, 1.0, "greedy"),
        "act_batch256": lambda: act(agent, key, obs, 50, 1.0, "greedy"),
    }
    out = {"compile_s": {}, "seconds": {}, "cpu_ms": {}}
    for name, call in calls.items():
        reps = repeats * (10 if name == "act_single" else 1)
        out["compile_s"][name] = _common.time_compile(call)
        out["seconds"][name] = _common.time_call(call, repeats=reps, warmup=1)
        out["cpu_ms"][name] = 1e3 * _cpu_per_call(call, max(1, reps // 2))
        print(f"  dim {dim} {matmul_dtype} {name}: {out['seconds'][name] * 1e3:.1f} ms/call")
    sec = out["seconds"]
    out["updates_per_s"] = UPDATES_PER_CALL / sec["update_many"]
    out["decisions_per_s_single"] = 1.0 / sec["act_single"]
    out["decisions_per_s_batch256"] = 256.0 / sec["act_batch256"]
    out["cpu_ms"]["per_update"] = out["cpu_ms"]["update_many"] / UPDATES_PER_CALL
    return out


# the trainer's default agent before the equivariant networks (MLP, 8 + 8 critics,
# batch 100, entropy term), against today's `make_run_config` default (no BC)
PREVIOUS_DEFAULT = {"gamma": 0.0, "budget_projection": True, "network": "mlp",
                    "critic_structure": "additive", "num_critics": 8,
                    "batch_size": 100, "w_e": 0.01, "clip_denoised": False,
                    "critic_argmax": False}  # fmt: skip


# the agent of the previous sessions: equivariant, the critic's argmax among 10 DDIM
# candidates of all 30 steps, Diffusion-QL's Q-loss in every update, no distillation
ARGMAX_AGENT = {"critic_argmax": True, "w_q": 1.0, "actor_space": "box", "dropout": 0.05,
                "sample_steps": 0}  # fmt: skip


def default_agents(repeats: int, only_default: bool = False) -> dict:
    """updates/s, transitions/s (updates × batch) and decisions/s (1 state, 256 states)
    of the trainer's default agent without BC ("default", deciding with its run's own
    candidates and η), the argmax agent before it and the MLP default before that
    (`only_default`: the first alone, as `--quick` measures)."""
    from difsched_jax.train.dql_config import make_run_config

    out = {}
    for dim, exp in ((8, 0), (20, 1)):
        run = make_run_config(exp, "unused", bc=False)
        now = run.agent_config()
        # label -> (agent config, candidates, η) as each decides
        configs = {
            "mlp_before": (now.replace(**PREVIOUS_DEFAULT), 50, 1.0),
            "argmax_agent": (now.replace(**ARGMAX_AGENT), 10, 1.0),
            "default": (now, run.eval_candidates, run.eval_eta),
        }
        offline, online = _buffers(dim)
        obs = offline.data.obs[:256]
        key = jax.random.PRNGKey(1)
        for label, (cfg, n, eta) in configs.items():
            if only_default and label != "default":
                continue
            agent = _common.block(init_agent(key, cfg))
            upd = lambda: update_many(agent, offline, key, UPDATES_PER_CALL, online, 0.75)  # noqa: B023,E731
            dec = lambda: act(agent, key, obs, n, eta, "greedy")  # noqa: B023,E731
            one = lambda: act(agent, key, obs[:1], n, eta, "greedy")  # noqa: B023,E731
            row = {"compile_s": _common.time_compile(upd)}
            row["updates_per_s"] = UPDATES_PER_CALL / _common.time_call(upd, repeats, warmup=1)
            row["transitions_per_s"] = row["updates_per_s"] * cfg.batch_size
            row["compile_s_act"] = _common.time_compile(dec)
            row["decisions_per_s_batch256"] = 256 / _common.time_call(dec, repeats, warmup=1)
            _common.time_compile(one)
            row["decisions_per_s_single"] = 1 / _common.time_call(one, 10 * repeats, warmup=1)
            keys = ("network", "critic_structure", "num_critics", "batch_size", "user_hidden",
                    "hidden", "w_e", "w_q", "critic_argmax", "sample_steps", "num_steps")  # fmt: skip
            row["agent"] = {k: getattr(cfg, k) for k in keys}
            row["acting"] = {"candidates": n, "eta": eta,
                             "network_evaluations": n * (cfg.sample_steps or cfg.num_steps)}  # fmt: skip
            out.setdefault(str(dim), {})[label] = row
            print(f"  default agent dim {dim} {label}: {row['updates_per_s']:.1f} updates/s, "
                  f"{row['decisions_per_s_batch256']:.0f} decisions/s")  # fmt: skip
    return out


def _xla_flops(fn, *args) -> float:
    """FLOPs of one call by XLA's cost analysis (a scan body counts once)."""
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def update_gflop(dim: int) -> float:
    """GFLOP of one SPEC §5 update: XLA's count, plus the T − 1 DDIM steps of the
    critic target that the count of the scanned chain leaves out."""
    cfg = DQLConfig.with_bc(dim, budget=DIMS[dim])
    agent = init_agent(jax.random.PRNGKey(0), cfg)
    u = jnp.zeros((cfg.batch_size, dim))
    batch = Batch(u, u, jnp.zeros(cfg.batch_size), u, jnp.zeros(cfg.batch_size))
    key = jax.random.PRNGKey(1)
    one_step = cfg.replace(num_steps=1)
    chain_step = _xla_flops(
        lambda a, k, s: ddim_sample(one_step, a, k, s, 1.0), agent.actor, key, u
    )
    total = _xla_flops(_update, agent, batch, key) + (cfg.num_steps - 1) * chain_step
    return total / 1e9


def matmul_gflops(repeats: int) -> float:
    """GFLOP/s XLA reaches here on the critics' own shapes: 16 stacked 128×128
    layers applied to 100 rows, three deep (the ensemble's hidden layers)."""
    w = jax.random.normal(jax.random.PRNGKey(0), (3, 16, 128, 128)) / 128**0.5
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 100, 128))

    @jax.jit
    def layers(x):
        for i in range(3):
            x = jnp.tanh(jnp.einsum("kbi,kio->kbo", x, w[i]))
        return x

    seconds = _common.time_call(lambda: layers(x), repeats=20 * repeats, warmup=2)
    return 3 * 2 * 16 * 100 * 128 * 128 / seconds / 1e9


def roofline(repeats: int) -> dict:
    """Is the update FLOP-bound? GFLOP per update, the dense-matmul GFLOP/s XLA
    reaches here, and the ceiling (updates/s) their ratio sets."""
    rate = matmul_gflops(repeats)
    gflop = {str(d): update_gflop(d) for d in DIMS}
    ceiling = {d: rate / g for d, g in gflop.items()}
    print(f"  matmul {rate:.1f} GFLOP/s; update GFLOP {gflop}; ceiling {ceiling}")
    return {"matmul_gflops": rate, "gflop_per_update": gflop, "updates_per_s_ceiling": ceiling}


def run(dtypes, repeats: int) -> dict:
    result = {}
    for dtype in dtypes:
        per_dim = {d: bench_dim(d, dtype, repeats) for d in DIMS}
        block = {
            key: {str(d): per_dim[d][key] for d in DIMS}
            for key in ("updates_per_s", "decisions_per_s_single", "decisions_per_s_batch256")
        }
        block["compile_s"] = {str(d): per_dim[d]["compile_s"] for d in DIMS}
        block["cpu_ms"] = {str(d): per_dim[d]["cpu_ms"] for d in DIMS}
        block["matmul_dtype"] = dtype
        if not result:
            result.update(block)
        else:
            result[dtype] = block
    return result


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = [result] + [result[k] for k in ("bfloat16",) if k in result]
    keys = ("updates_per_s", "decisions_per_s_single", "decisions_per_s_batch256")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    width = 0.8 / len(blocks)
    for ax, key in zip(axes, keys):
        for i, blk in enumerate(blocks):
            dims = list(blk[key])
            xs = [j + i * width for j in range(len(dims))]
            ax.bar(xs, [blk[key][d] for d in dims], width, label=f"JAX {blk['matmul_dtype']}")
        ax.set_xticks([j + width * (len(blocks) - 1) / 2 for j in range(len(dims))])
        ax.set_xticklabels([f"dim {d}" for d in dims])
        ax.axhline(REFERENCE[key], color="k", ls="--", label="reference PyTorch")
        if key in TARGET:
            ax.axhline(TARGET[key], color="r", ls=":", label="target")
        ax.set_title(key.replace("_", " "))
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.suptitle(f"DQL speed (T=30, 8+8 critics; load avg {result['load_avg'][0]:.1f})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--matmul-dtype", default="float32", choices=("float32", "bfloat16", "both"))
    p.add_argument("--default-agent-only", action="store_true",
                   help="only the trainer's default agent, before and after (dql_default_agent.json)")  # fmt: skip
    args = p.parse_args()
    dtypes = ("float32", "bfloat16") if args.matmul_dtype == "both" else (args.matmul_dtype,)
    t0 = time.perf_counter()
    if args.default_agent_only:
        result = {"default_agent": default_agents(repeats=2 if args.quick else 5)}
        result.update(load_avg=list(os.getloadavg()), wall_s=time.perf_counter() - t0)
        _common.write_json(args.out, "dql_default_agent.json", result)
        return
    result = run(dtypes, repeats=2 if args.quick else 5)
    if not args.quick:  # --quick: the headline rows only (the default agent, SPEC §5's MLP)
        result["roofline"] = roofline(repeats=5)
    result["default_agent"] = default_agents(2 if args.quick else 5, only_default=args.quick)
    result["reference"] = REFERENCE
    result["target"] = TARGET
    result["updates_per_call"] = UPDATES_PER_CALL
    result["load_avg"] = list(os.getloadavg())
    result["quick"] = args.quick
    result["wall_s"] = time.perf_counter() - t0
    _common.write_json(args.out, "dql_speed.json", result)
    plot(result, os.path.join(args.out, "dql_speed.png"))


if __name__ == "__main__":
    main()
