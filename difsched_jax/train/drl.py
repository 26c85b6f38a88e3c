"""Train PPO/SAC on the vectorised environment: thin Python around jitted chunks.

A run folder holds

    config.json     everything needed to rebuild the env and the policy
    metrics.jsonl   one row per chunk (env steps, losses, validation, timing)
    ckpt/latest     full training state (resume continues exactly)
    ckpt/best       actor of the best validation loss (what `ppo:RUN` loads)
    curve.png       learning curve
    summary.json    final figures

Training uses the first part of the TRAIN split; the last `val_fraction` of it
is held out and scored with the deterministic policy after every chunk (same
key each time) to pick the best checkpoint. The test split is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field

import jax
import numpy as np

from difsched_jax.agents import heuristics
from difsched_jax.agents.drl import ppo, sac
from difsched_jax.agents.drl.policy import DeterministicPolicy, policy_params
from difsched_jax.config import EnvConfig, check_allocation, check_positive, get_env_config
from difsched_jax.env import rollout
from difsched_jax.faults import crash_point
from difsched_jax.traffic import ALIGNMENTS
from difsched_jax.train import run_folder
from difsched_jax.train.checkpoint import BestLatest

ALGOS = {"ppo": (ppo, ppo.PPOConfig), "sac": (sac, sac.SACConfig)}
TIMING_KEYS = ("chunk_seconds", "steps_per_s", "compiled")


@dataclass(frozen=True)
class RunConfig:
    algo: str
    env_config: int
    steps: int = 100_000  # env steps (slice-windows), rounded up to whole iterations
    obs: str = "predicted"
    traffic_dir: str | None = None  # None: synthetic traffic
    alignment: str = "reference"  # loss/observation pairing, as `evaluate` (data.alignment)
    allocation: str = "integer"  # `config.ALLOCATIONS`: whole blocks, or the reference's ceil
    seed: int = 0
    episode_len: int = 100  # windows per episode (SPEC §6)
    val_fraction: float = 0.2  # tail of the train split held out for model selection
    val_slices: int = 64
    val_windows: int = 100
    chunk_steps: int = 10_000  # env steps per jitted chunk (one metrics row, one checkpoint)
    agent: object = None  # the algo's frozen PPOConfig / SACConfig (a dict is read as one)
    env_override: dict = field(default_factory=dict)  # EnvConfig fields replaced (small tests)

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {sorted(ALGOS)}, got {self.algo!r}")
        check_allocation("RunConfig", self.allocation)
        self.env()
        if self.alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {self.alignment!r}")
        # JSON-normal form (tuples -> lists), so a config read back compares equal
        cls = ALGOS[self.algo][1]
        if self.agent is None or isinstance(self.agent, dict):
            object.__setattr__(self, "agent", cls(**(self.agent or {})))
        elif not isinstance(self.agent, cls):
            raise ValueError(f"RunConfig.agent must be a {cls.__name__}, got {type(self.agent)}")
        object.__setattr__(self, "env_override", json.loads(json.dumps(dict(self.env_override))))
        check_positive(self, "steps", "episode_len", "val_slices", "val_windows", "chunk_steps")

    def env(self) -> EnvConfig:
        """The env config trained on: the registry's, with `env_override` applied."""
        env = get_env_config(self.env_config).replace(allocation=self.allocation)
        return env.replace(**self.env_override)

    def agent_config(self):
        return self.agent

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_run_config(algo: str, env_config: int, slices: int | None = None, **kw) -> RunConfig:
    """A RunConfig with the agent's defaults filled in (and PPO's lr decay sized
    to the run), so config.json lists every hyper-parameter."""
    cls = ALGOS[algo][1] if algo in ALGOS else None
    if cls is None:
        raise ValueError(f"algo must be one of {sorted(ALGOS)}, got {algo!r}")
    agent = dict(kw.pop("agent", {}) or {})
    if slices is not None:
        agent["num_slices"] = slices
    cfg = cls(**agent)
    run = RunConfig(algo, env_config, **kw)
    if algo == "ppo" and "lr_decay_updates" not in agent:
        iters = -(-run.steps // cfg.steps_per_iter)
        cfg = dataclasses.replace(cfg, lr_decay_updates=iters * cfg.epochs * cfg.minibatches)
    return dataclasses.replace(run, agent=cfg)


def load_run_config(run_dir: str) -> RunConfig:
    return RunConfig(**run_folder.read_config(run_dir, "train-drl"))


def _validate(policy, pparams, val_params, spec, run: RunConfig) -> float:
    """Mean loss of `policy` on the held-out part of the train split (fixed key)."""
    key = jax.random.fold_in(jax.random.key(run.seed), 7)
    rec = rollout(policy, pparams, val_params, spec, key, run.val_slices, run.val_windows)
    return float(np.asarray(rec.loss, np.float64).mean())


def plot_curve(rows: list[dict], path: str, title: str, equal_val: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from difsched_jax.files import save_figure_atomic

    steps = [r["env_steps"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [r["train_loss"] for r in rows], label="training (stochastic policy)")
    ax.plot(steps, [r["val_loss"] for r in rows], marker="o", label="validation (mean action)")
    if equal_val is not None:
        ax.axhline(equal_val, color="gray", ls="--", label="equal share (validation)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("packet-loss rate")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=120)
    plt.close(fig)


def train(
    run: RunConfig,
    out: str,
    resume: bool = False,
    progress: bool = True,
    max_chunks: int | None = None,
) -> dict:
    """Train (or continue) the run in folder `out`; returns the summary dict.
    `max_chunks`: stop after that many chunks in this call (resume later)."""
    from tqdm.auto import tqdm

    module, _ = ALGOS[run.algo]
    cfg = run.agent_config()
    env_cfg = run.env()
    ckpt = run_folder.open_run(out, run, resume, load_run_config, env_cfg.to_dict())

    spec, train_params, val_params = run_folder.train_envs(env_cfg, run)
    policy = DeterministicPolicy(cfg.actor_spec(env_cfg.num_users, env_cfg.window))
    state = module.init_state(cfg, jax.random.key(run.seed), train_params, spec)
    best_val = float("inf")
    if resume and ckpt.step("latest") is not None:
        state, meta = ckpt.restore("latest", state)
        best_val = meta["best_val_loss"]
    done_iters = int(state.iteration)
    rows = run_folder.read_rows(out, "iteration", done_iters)
    hp = heuristics.heuristic_params(env_cfg.budget)
    equal_val = _validate(heuristics.equal_share, hp, val_params, spec, run)
    random_val = _validate(heuristics.random_policy, hp, val_params, spec, run)

    total_iters = -(-run.steps // cfg.steps_per_iter)
    chunk_iters = max(1, min(run.chunk_steps // cfg.steps_per_iter, total_iters))
    bar = tqdm(
        total=total_iters * cfg.steps_per_iter,
        initial=done_iters * cfg.steps_per_iter,
        unit="step",
        disable=not progress,
        desc=f"{run.algo} env {run.env_config}",
    )
    compiled, chunks = set(), 0
    while done_iters < total_iters and (max_chunks is None or chunks < max_chunks):
        chunks += 1
        n = min(chunk_iters, total_iters - done_iters)
        t0 = time.perf_counter()
        state, m = module.train_chunk(cfg, spec, train_params, state, n)
        jax.block_until_ready(state)
        seconds = time.perf_counter() - t0
        done_iters = int(state.iteration)
        val = _validate(policy, policy_params(state.actor, env_cfg.budget), val_params, spec, run)
        row = {"iteration": done_iters, "env_steps": done_iters * cfg.steps_per_iter}
        row.update({k: float(np.mean(np.asarray(v))) for k, v in m.items()})
        row.update(val_loss=val, best_val_loss=min(val, best_val))
        # the first call of a chunk length compiles: kept apart in the throughput figure
        row.update(
            chunk_seconds=seconds,
            steps_per_s=n * cfg.steps_per_iter / seconds,
            compiled=n not in compiled,
        )
        compiled.add(n)
        if val < best_val:
            best_val = val
            ckpt.save("best", done_iters, {"actor": state.actor}, {"val_loss": val, **row})
            crash_point("best_saved")
        rows.append(row)
        run_folder.end_step(out, rows, ckpt, done_iters, state, {"best_val_loss": best_val, **row})
        bar.update(n * cfg.steps_per_iter)
        bar.set_postfix(train=f"{row['train_loss']:.3f}", val=f"{val:.3f}", best=f"{best_val:.3f}")
    bar.close()
    ckpt.close()
    title = f"{run.algo.upper()}, env config {run.env_config}, {run.obs} obs"
    if rows:
        plot_curve(rows, os.path.join(out, "curve.png"), title, equal_val)
    steady = [r for r in rows if not r["compiled"]]
    return run_folder.write_summary(
        out,
        {
            "algo": run.algo,
            "env_config": run.env_config,
            "env_steps": done_iters * cfg.steps_per_iter,
            "final_val_loss": rows[-1]["val_loss"] if rows else None,
            "best_val_loss": best_val,
            "equal_share_val_loss": equal_val,
            "random_val_loss": random_val,
            "train_seconds": sum(r["chunk_seconds"] for r in rows),
            "steady_steps_per_s": (
                sum(r["chunk_seconds"] * r["steps_per_s"] for r in steady)
                / sum(r["chunk_seconds"] for r in steady)
                if steady
                else None
            ),
        },
    )


def load_policy(run_dir: str):
    """(act, policy_params, RunConfig) of a trained run's best actor."""
    run = load_run_config(run_dir)
    env_cfg = run.env()
    spec = run.agent_config().actor_spec(env_cfg.num_users, env_cfg.window)
    s0 = jax.numpy.zeros((env_cfg.num_users,), jax.numpy.float32)
    like = {"actor": spec.module().init(jax.random.key(0), s0)["params"]}
    ckpt = BestLatest(os.path.join(run_dir, "ckpt"))
    restored = ckpt.restore("best", like)
    ckpt.close()
    if restored is None:
        raise ValueError(f"{run_dir}: no best checkpoint yet")
    return DeterministicPolicy(spec), policy_params(restored[0]["actor"], env_cfg.budget), run
