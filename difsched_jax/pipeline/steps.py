"""The work of each pipeline stage: build sub-agents, generate a dataset, train
Diffusion-QL or a deep-RL baseline, evaluate an experiment's policies. Each
returns a `Stage` (folder + marker, see `stages`) whose key names every input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re

import numpy as np

from difsched_jax import __version__
from difsched_jax.config import get_dataset_config, get_env_config, get_experiment_config
from difsched_jax.faults import crash_point
from difsched_jax.files import DamagedFile
from difsched_jax.pipeline.presets import Preset
from difsched_jax.pipeline.stages import Stage, StageLog, content_hash, file_hash
from difsched_jax.traffic import get_trace, load_trace, source_path


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What every stage shares: the traffic (and its content hash), seed, pairing."""

    traffic_dir: str | None  # absolute, or None for synthetic traffic
    seed: int
    alignment: str
    progress: bool
    traffic_id: str  # hash of the traces' contents (real files or synthetic arrays)
    allocation: str = "integer"  # `config.ALLOCATIONS`: of every dataset, run and evaluation

    def trace(self, flow: str, window: int):
        return load_trace(flow, window, self.traffic_dir, self.seed, self.alignment)

    def key(self, **kw) -> dict:
        base = {"traffic": self.traffic_id, "seed": self.seed, "alignment": self.alignment}
        return {**base, "version": __version__, **kw}


def traffic_identity(flows, window: int, traffic_dir: str | None, seed: int) -> str:
    """Hash of the trace contents the run reads: files by their bytes, synthetic
    traces by their arrays (so a changed generator gives new stage folders)."""
    h = hashlib.sha256()
    for flow in sorted(set(flows)):
        path = source_path(traffic_dir, flow, window)
        if path is not None:
            if not os.path.exists(path):
                raise ValueError(f"{path}: no trace file for flow {flow!r} in the traffic folder")
            h.update(f"{flow}:{file_hash(path)}".encode())
            continue
        trace = get_trace(flow, window, None, seed=seed)
        for name in ("train_actual", "train_predicted", "test_actual", "test_predicted"):
            h.update(np.ascontiguousarray(getattr(trace, name)).tobytes())
    kind = "files" if traffic_dir is not None else f"synthetic-s{seed}"
    return f"{kind}-{h.hexdigest()[:16]}"


def agents(log: StageLog, preset: Preset, inp: Inputs) -> Stage:
    from difsched_jax.agents.mdp import build_subagent

    stage = log.stage("agents", inp.key(subagents=list(preset.subagents)))

    def work(st: Stage) -> dict:
        out = {}
        for i in preset.subagents:
            _, meta = build_subagent(i, st.path, inp.traffic_dir, inp.seed)
            log.log(f"    sub-agent {i}: {meta['sweeps']} sweeps, {meta['solve_seconds']:.1f} s")
            out[str(i)] = {k: meta[k] for k in ("sweeps", "cut_points", "solve_seconds")}
        return {"subagents": out}

    log.run(stage, work)
    return stage


def dataset(log: StageLog, preset: Preset, inp: Inputs, index: int, agents_st: Stage) -> Stage:
    from difsched_jax.data import generate_dataset, load_dataset
    from difsched_jax.data.policy import behaviour_policies

    config = get_dataset_config(index).replace(allocation=inp.allocation)
    sizes = {
        "slices": preset.dataset_slices,
        "windows": preset.dataset_windows,
        "episode_len": preset.dataset_episode_len,
        "behaviour_noise": preset.behaviour_noise,
    }
    key = inp.key(dataset_config=config.to_dict(), agents=agents_st.hash, **sizes)
    stage = log.stage(f"dataset{index}", key)

    def work(st: Stage) -> dict:
        folder = os.path.join(st.path, "data")
        policies, facts = behaviour_policies(
            config, inp.traffic_dir, agents_st.path, inp.seed, sizes["behaviour_noise"]
        )
        summary = generate_dataset(
            folder,
            config,
            inp.trace(config.flow, config.window),
            policies,
            num_slices=sizes["slices"],
            num_windows=sizes["windows"],
            episode_len=sizes["episode_len"],
            seed=config.seed + inp.seed,  # seed 0: the reference's seed
            resume=os.path.exists(os.path.join(folder, "meta.json")),
            progress=inp.progress,
            info={"dataset_config": index, "traffic": inp.traffic_id, **facts},
        )
        ds = load_dataset(folder, verify=False)
        total = sum(float(d["loss"].sum(dtype="float64")) for _, d in ds.iter_shards(["loss"]))
        mean = total / ds.num_transitions
        log.log(f"    {ds.num_transitions:,} transitions, mean loss {mean:.4f}")
        return {"transitions": ds.num_transitions, "mean_loss": mean, "seconds": summary["seconds"]}

    log.run(stage, work)
    return stage


def dataset_folder(stage: Stage) -> str:
    return os.path.join(stage.path, "data")


def train_dql(
    log: StageLog, preset: Preset, inp: Inputs, exp: int, bc: bool, data_st: Stage
) -> Stage:
    from difsched_jax.train import dql

    run = dql.make_run_config(
        exp,
        os.path.abspath(dataset_folder(data_st)),
        bc=bc,
        traffic_dir=inp.traffic_dir,
        seed=inp.seed,
        alignment=inp.alignment,
        allocation=inp.allocation,
        agent=preset.train_agent,
        **preset.train_run,
    )
    # paths out of the key: the dataset is named by its stage hash, traffic by content
    settings = {k: v for k, v in run.to_dict().items() if k not in ("dataset", "traffic_dir")}
    stage = log.stage(
        f"dql-exp{exp}-{'bc' if bc else 'nobc'}", inp.key(run=settings, dataset=data_st.hash)
    )

    def work(st: Stage) -> dict:
        resume = os.path.exists(os.path.join(st.path, "config.json"))
        return dql.train(run, st.path, resume=resume, progress=inp.progress)

    log.run(stage, work)
    return stage


def train_drl(log: StageLog, preset: Preset, inp: Inputs, exp: int, algo: str) -> Stage:
    from difsched_jax.train import drl

    run = drl.make_run_config(
        algo,
        get_experiment_config(exp).env,
        steps=preset.drl_steps,
        traffic_dir=inp.traffic_dir,
        seed=inp.seed,
        alignment=inp.alignment,
        allocation=inp.allocation,
        agent=preset.drl_agent.get(algo, {}),
        **preset.drl_run,
    )
    settings = {k: v for k, v in dataclasses.asdict(run).items() if k != "traffic_dir"}
    stage = log.stage(f"{algo}-exp{exp}", inp.key(run=settings))

    def work(st: Stage) -> dict:
        resume = os.path.exists(os.path.join(st.path, "config.json"))
        return drl.train(run, st.path, resume=resume, progress=inp.progress)

    log.run(stage, work)
    return stage


def evaluate(log: StageLog, preset: Preset, inp: Inputs, exp: int, policies: list[tuple]) -> Stage:
    """policies: (label, registry name, upstream stage or None) in table order."""
    from difsched_jax.evaluate.compare import add_paired
    from difsched_jax.evaluate.plots import plot_comparison, plot_loss_histogram
    from difsched_jax.evaluate.report import plot_allocations
    from difsched_jax.pipeline.evaluation import (
        evaluate_with_allocations,
        load_policy_result,
        save_policy_result,
    )

    env_index = get_experiment_config(exp).env
    config = get_env_config(env_index).replace(allocation=inp.allocation)
    sizes = {
        "num_slices": preset.eval_slices,
        "num_windows": preset.eval_windows,
        "episode_len": preset.eval_episode_len,
    }
    # a policy is named by its kind and the hash of the stage that made it
    listed = [(label, name.partition(":")[0], up and up.hash) for label, name, up in policies]
    key = inp.key(env_config=config.to_dict(), split="test", obs="predicted", **sizes)
    stage = log.stage(f"eval-exp{exp}", {**key, "policies": listed}, folder_key=key)

    def work(st: Stage) -> dict:
        trace = inp.trace(config.flow, config.window)
        rows, samples, out = [], [], []
        for (label, name, _up), item in zip(policies, listed):
            slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
            path = os.path.join(st.path, f"{slug}-{content_hash(item)}.npz")
            try:  # evaluated before an interruption
                row, s = load_policy_result(path)
            except FileNotFoundError:
                row = None
            except DamagedFile as e:
                log.log(f"    {e}: evaluating again")
                row = None
            if row is None:
                row, s = evaluate_with_allocations(name, config, trace, seed=inp.seed, **sizes)
                save_policy_result(path, row, s)
                crash_point("policy_evaluated")
            row.name = label
            log.log(f"    {label:<24} {row.result.mean_loss:.4f} ± {row.result.ci95:.4f}")
            rows.append(row)
            samples.append((label, s))
        names = [name.partition(":")[0] for _, name, _ in policies]
        add_paired(rows, names)
        for row, (label, name, up) in zip(rows, policies):
            spec = f"{name.partition(':')[0]}:{up.folder}" if up is not None else name
            out.append({"label": label, **row.summary(), "policy": spec})
        title = f"experiment {exp} (env config {env_index}), test split"
        plot_comparison(rows, os.path.join(st.path, "comparison.png"), title)
        plot_loss_histogram(rows, os.path.join(st.path, "losses.png"), title)
        plot_allocations(
            samples,
            os.path.join(st.path, "allocations.png"),
            config.budget,
            f"experiment {exp}: allocation per user vs observed count (test split)",
            max_points=preset.scatter_points,
        )
        return {"env_config": env_index, "config": config.to_dict(), "results": out, **sizes}

    log.run(stage, work)
    return stage
