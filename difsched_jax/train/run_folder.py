"""The run folder both trainers write (`difsched train`, `difsched train-drl`).

    config.json     the run's settings (and the env they resolve to), read back on --resume
    metrics.jsonl   one row per episode / chunk, rewritten atomically after each
    summary.json    the final figures
    ckpt/           Orbax checkpoints in the "latest" and "best" slots

Every file is written to a temporary name then renamed, so a kill leaves the old
version or the new one, never half of one. After each step the metrics rows are
written before the latest checkpoint (`end_step`): a kill between the two leaves
rows past the checkpoint, which a resumed run drops and recomputes, never a
checkpoint whose row is missing. `train_envs` is the env both train on.
"""

from __future__ import annotations

import json
import os

from difsched_jax.config import SliceConfig
from difsched_jax.env import make_env_for
from difsched_jax.env.build import split_params
from difsched_jax.faults import crash_point
from difsched_jax.files import read_json, read_jsonl, write_json_atomic, write_text_atomic
from difsched_jax.train.checkpoint import BestLatest

write_json = write_json_atomic


def read_config(run_dir: str, command: str) -> dict:
    """config.json of a `difsched COMMAND` run folder, without the resolved env."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        raise ValueError(f"{run_dir}: no config.json (not a `difsched {command}` run folder)")
    saved = read_json(path)
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: expected a JSON object of settings")
    saved.pop("env", None)
    kind = "train-drl" if "algo" in saved else "train"
    if kind != command:
        use = "ppo:RUN or sac:RUN" if kind == "train-drl" else "dql:RUN"
        raise ValueError(
            f"{run_dir} is a `difsched {kind}` run, not a `difsched {command}` one "
            f"(to evaluate it: --policy {use})"
        )
    # runs saved before the allocation setting existed executed the reference's ceil
    saved.setdefault("allocation", "reference")
    return saved


def open_run(out: str, run, resume: bool, load, env_dict: dict) -> BestLatest:
    """The checkpoints of run folder `out`, after writing `run`'s config.json.

    `resume`: the folder's saved config (`load(out)`) must equal `run`; otherwise the
    folder must hold no run yet. `env_dict`: the env config the run resolves to
    (saved beside the settings for readers; ignored when loading)."""
    ckpt = BestLatest(os.path.join(out, "ckpt"))
    if resume:
        if load(out) != run:
            cfg_path = os.path.join(out, "config.json")
            raise ValueError(f"{out}: --resume needs the saved run's settings ({cfg_path})")
    elif ckpt.step("latest") is not None:
        raise ValueError(f"{out} already holds a run; pass --resume or choose another --out")
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "config.json"), {**run.to_dict(), "env": env_dict})
    return ckpt


def read_rows(out: str, counter: str, upto: int, every: bool = False) -> list[dict]:
    """Metrics rows whose `counter` (episode, iteration) is at most `upto`: a resumed
    run drops the rows written after its checkpoint. The kept rows must count up to
    `upto` (all of 1..upto when `every`), or the file lost rows: refused."""
    path = os.path.join(out, "metrics.jsonl")
    rows = read_jsonl(path) if os.path.exists(path) else []
    if not all(isinstance(r, dict) and isinstance(r.get(counter), int) for r in rows):
        raise ValueError(f"{path}: a row without its {counter!r} number (the file was edited)")
    kept = [r for r in rows if r[counter] <= upto]
    seen = [r[counter] for r in kept]
    complete = seen == list(range(1, upto + 1)) if every else (seen or [0])[-1] == upto
    if not complete or any(a >= b for a, b in zip(seen, seen[1:])):
        raise ValueError(
            f"{path}: the rows up to the checkpoint's {counter} {upto} are not all there "
            "(the file was cut or edited); the run cannot be resumed as it was"
        )
    return kept


def write_rows(out: str, rows: list[dict]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    write_text_atomic(os.path.join(out, "metrics.jsonl"), text)


def end_step(out: str, rows: list[dict], ckpt: BestLatest, step: int, state, meta: dict) -> None:
    """Metrics rows, then the latest checkpoint (see the module's note)."""
    write_rows(out, rows)
    crash_point("rows_written")
    ckpt.save("latest", step, state, meta)


def write_summary(out: str, summary: dict) -> dict:
    write_json(os.path.join(out, "summary.json"), summary)
    return summary


def train_envs(config: SliceConfig, run) -> tuple:
    """(spec, train_params, val_params): the train split of the run's traffic, its last
    `val_fraction` held out for validation (both trainers; `run` has traffic_dir, obs,
    seed, alignment, episode_len and val_fraction)."""
    spec, params = make_env_for(
        config,
        run.traffic_dir,
        "train",
        run.obs,
        seed=run.seed,
        alignment=run.alignment,
        episode_len=run.episode_len,
    )
    train, val = split_params(params, run.val_fraction)
    return spec, train, val
