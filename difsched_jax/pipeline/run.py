"""`difsched pipeline`: traffic -> MDP sub-agents -> offline datasets ->
Diffusion-QL (with and without BC) [-> PPO/SAC] -> evaluation -> report.md.

Every stage lives in a content-addressed folder of the run folder (see
`stages`), so running the same command again skips what is done and a crashed
run continues where it stopped.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable

from difsched_jax import paths
from difsched_jax.config import (
    check_allocation,
    get_env_config,
    get_experiment_config,
    get_subagent_config,
)
from difsched_jax.evaluate.report import render_report
from difsched_jax.files import DamagedFile
from difsched_jax.pipeline import steps
from difsched_jax.pipeline.presets import Preset, get_preset
from difsched_jax.pipeline.stages import (
    Stage,
    StageLog,
    content_hash,
    file_hash,
    read_json,
    write_json,
)
from difsched_jax.traffic import ALIGNMENTS

DRL_LABELS = {"ppo": "PPO", "sac": "SAC"}


def _machine() -> str:
    import jax

    devices = jax.devices()
    kind = f"{len(devices)} × {devices[0].device_kind}" if devices else "no device"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, JAX {jax.__version__} on {kind}"


def _policies(
    exp: int, agents_st: Stage, dql_runs: dict, drl_runs: dict, allocation: str
) -> list[tuple]:
    """(label, registry name, upstream stage) in the table's order."""
    out = [
        ("random", "random", None),
        ("proportional", "proportional", None),
        ("equal share", "equal", None),
        ("MDP behaviour", f"mdp:{agents_st.path}", agents_st),
    ]
    for bc, label in ((True, "Diffusion-QL (BC)"), (False, "Diffusion-QL (no BC)")):
        st = dql_runs[(exp, bc)]
        out.append((label, f"dql:{st.path}", st))
    for (e, algo), st in drl_runs.items():
        if e == exp:
            out.append((DRL_LABELS[algo], f"{algo}:{st.path}", st))
    out.append(("oracle (predicted obs)", "oracle", None))
    out.append(("oracle-calibrated", "oracle-calibrated", None))
    out.append(("oracle-bayes (in-sample floor)", "oracle-bayes", None))
    if allocation == "reference":
        out.append(("oracle-ceil", "oracle-ceil", None))
    out.append(("oracle (perfect obs)", "oracle-perfect", None))
    return out


def _curves(stage: Stage) -> str | None:
    for name in ("curves.png", "curve.png"):  # DQL, deep RL
        if os.path.exists(os.path.join(stage.path, name)):
            return f"{stage.folder}/{name}"
    return None


def _training(stages: list[tuple[str, Stage]]) -> list[dict]:
    out = []
    for label, st in stages:
        summary = read_json(os.path.join(st.path, "summary.json"))
        out.append({"label": label, "folder": st.folder, "curves": _curves(st), "summary": summary})
    return out


def _cached_results(report_st: Stage, results_path: str, report_path: str, log) -> dict | None:
    """results.json when the report stage finished and neither it nor report.md changed
    since; None (write them again) otherwise, saying why when something was damaged."""
    if not report_st.done or not os.path.exists(results_path) or not os.path.exists(report_path):
        return None
    seal = report_st.summary
    try:
        results = read_json(results_path)
    except DamagedFile as e:
        log(f"stage report: {e}; writing the report again")
        return None
    for path, ok in (
        (results_path, content_hash(results) == seal["hash"]),
        (report_path, file_hash(report_path) == seal.get("report_sha", file_hash(report_path))),
    ):
        if not ok:
            log(f"stage report: {path} was changed after it was written; writing it again")
            return None
    return results


def run_pipeline(
    preset: Preset | str = "quick",
    out: str | os.PathLike | None = None,
    traffic_dir: str | os.PathLike | None = None,
    seed: int = 0,
    alignment: str = "reference",
    allocation: str = "integer",
    drl: tuple[str, ...] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Run (or finish) every stage into folder `out` (default
    data/results/pipeline/PRESET); returns the results dict also written to
    ``out/results.json`` (report at ``out/report.md``).
    drl: deep-RL baselines to train and evaluate (default: the preset's)."""
    t_start = time.perf_counter()
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if drl is not None:
        unknown = set(drl) - set(DRL_LABELS)
        if unknown:
            raise ValueError(f"unknown deep-RL baselines {sorted(unknown)}; known: ppo, sac")
        preset = preset.replace(drl=tuple(drl))
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    check_allocation("pipeline", allocation)
    out = os.fspath(out) if out is not None else paths.pipeline_dir(preset.name)
    flows = [get_env_config(get_experiment_config(e).env).flow for e in preset.experiments]
    flows += [get_subagent_config(i).flow for i in preset.subagents]
    traffic_dir = os.path.abspath(traffic_dir) if traffic_dir is not None else None
    window = get_env_config(get_experiment_config(preset.experiments[0]).env).window
    traffic = "synthetic" if traffic_dir is None else traffic_dir
    log(
        f"pipeline, preset {preset.name}: experiments {list(preset.experiments)}, "
        f"traffic {traffic}, seed {seed}, {allocation} allocation -> {out}"
    )
    inp = steps.Inputs(
        traffic_dir=traffic_dir,
        seed=seed,
        alignment=alignment,
        progress=progress,
        traffic_id=steps.traffic_identity(flows, window, traffic_dir, seed),
        allocation=allocation,
    )
    os.makedirs(out, exist_ok=True)  # once the traffic is known to be readable
    log_ = StageLog(out, log)

    agents_st = steps.agents(log_, preset, inp)
    data = {d: steps.dataset(log_, preset, inp, d, agents_st) for d in preset.train_datasets}
    dql_runs = {}
    for e in preset.experiments:
        ds = data[get_experiment_config(e).train_dataset]
        for bc in (True, False):
            dql_runs[(e, bc)] = steps.train_dql(log_, preset, inp, e, bc, ds)
    drl_runs = {
        (e, algo): steps.train_drl(log_, preset, inp, e, algo)
        for e in preset.experiments
        for algo in preset.drl
    }
    evals = {
        e: steps.evaluate(
            log_, preset, inp, e, _policies(e, agents_st, dql_runs, drl_runs, allocation)
        )
        for e in preset.experiments
    }

    report_key = {
        "preset": preset.to_dict(),
        "stages": {f: content_hash(s) for f, s in log_.summaries.items()},
        "traffic": inp.traffic_id,
    }
    report_st = Stage(out, "report", report_key)
    results_path = os.path.join(out, "results.json")
    report_path = os.path.join(out, "report.md")
    cached = _cached_results(report_st, results_path, report_path, log)
    if cached is not None:
        log(f"stage report: done already, skipping ({report_path})")
        return cached

    experiments = []
    for e in preset.experiments:
        exp_cfg = get_experiment_config(e)
        ev = evals[e]
        summary = ev.summary
        trained = [
            (f"Diffusion-QL ({'BC' if bc else 'no BC'})", dql_runs[(e, bc)]) for bc in (1, 0)
        ]
        trained += [(DRL_LABELS[a], st) for (x, a), st in drl_runs.items() if x == e]
        experiments.append(
            {
                "experiment": e,
                "env_config": exp_cfg.env,
                "train_dataset": exp_cfg.train_dataset,
                "config": summary["config"],
                "split": "test",
                "slices": summary["num_slices"],
                "windows": summary["num_windows"],
                "episode_len": summary["episode_len"],
                "results": summary["results"],
                "figures": {
                    k: f"{ev.folder}/{k}.png" for k in ("comparison", "losses", "allocations")
                },
                "dataset": {"folder": data[exp_cfg.train_dataset].folder}
                | data[exp_cfg.train_dataset].summary,
                "training": _training(trained),
            }
        )
    results = {
        "preset": preset.to_dict(),
        "seed": seed,
        "traffic": f"synthetic (seed {seed})" if traffic_dir is None else traffic_dir,
        "traffic_id": inp.traffic_id,
        "alignment": alignment,
        "allocation": allocation,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": _machine(),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "stages": log_.records,
        "experiments": experiments,
    }
    if len(experiments) > 1:  # one chart across experiments (paper preset)
        from difsched_jax.evaluate.report import plot_experiment_summary

        groups = [(f"experiment {x['experiment']}", x["results"]) for x in experiments]
        os.makedirs(report_st.path, exist_ok=True)
        plot_experiment_summary(groups, os.path.join(report_st.path, "summary.png"))
        results["summary_figure"] = f"{report_st.folder}/summary.png"
    write_json(results_path, results)
    tmp = f"{report_path}.tmp"
    with open(tmp, "w") as f:
        f.write(render_report(results))
    os.replace(tmp, report_path)
    os.makedirs(report_st.path, exist_ok=True)
    seal = {
        "report": "report.md",
        "hash": content_hash(results),
        "report_sha": file_hash(report_path),
    }
    report_st.finish(seal, 0.0)
    log(f"wrote {report_path} and {results_path} ({results['wall_seconds']:.0f} s)")
    return results
