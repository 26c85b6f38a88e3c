"""Every artefact kind, truncated, with bytes flipped and with fields edited: each is
found with one line naming the file (exit status 2, no traceback), and a damaged
pipeline cache is computed again, never trusted.

Artefacts: a trace, a dataset shard and its meta.json, an MDP sub-agent (.npz and
.json), an Orbax checkpoint (best and latest, arrays and meta), a run's config.json
and metrics.jsonl, the pipeline's stage markers, stage files, per-policy results,
results.json and report.md. All tiny and synthetic (nothing from ../shared).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import zipfile

import numpy as np
import pytest

from difsched_jax.cli import main
from difsched_jax.pipeline import run_pipeline
from difsched_jax.pipeline.compile_cache import use_compile_cache
from difsched_jax.pipeline.presets import TINY_AGENT, TINY_RUN

TRAIN_SETS = {**TINY_AGENT, **{k: v for k, v in TINY_RUN.items() if "explore" not in k}}
TRAIN_SETS.pop("greedy_slices")


def truncate(path: str) -> None:
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def flip(path: str, where: float = 0.5) -> None:
    """One byte inverted at `where` of the file (for an .npz: inside the largest
    member's data, so the archive's directory still reads)."""
    offset = int(os.path.getsize(path) * where)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            info = max(z.infolist(), key=lambda i: i.compress_size)
        offset = info.header_offset + 30 + len(info.filename) + info.compress_size // 2 + 64
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def edit_json(path: str, change) -> None:
    with open(path) as f:
        obj = json.load(f)
    change(obj)
    with open(path, "w") as f:
        json.dump(obj, f)


def edit_npz(path: str, key: str, value) -> None:
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    arrays[key] = value
    np.savez(path, **arrays)


def largest_file(folder: str) -> str:
    files = [p for p in glob.glob(os.path.join(folder, "**"), recursive=True) if os.path.isfile(p)]
    return max(files, key=os.path.getsize)


def refused(argv: list[str], capsys, names: str) -> str:
    """Run the CLI: exit 2, one line on stderr, naming the file `names` (its folder and
    its name, together or apart)."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (code, err)
    assert len(err.splitlines()) == 1 and err.startswith(f"difsched {argv[0]}: error:"), err
    assert names in err or (os.path.dirname(names) in err and os.path.basename(names) in err), err
    return err


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Traces, one sub-agent, a dataset and a two-episode Diffusion-QL run."""
    root = tmp_path_factory.mktemp("made")
    paths = {k: str(root / k) for k in ("traffic", "agents", "dataset", "run")}
    assert main(["synth-traffic", "--flows", "thumb_fr", "--out", paths["traffic"]]) == 0
    assert main(["build-agent", "--subagent-config", "0", "--out", paths["agents"]]) == 0
    assert main(["gen-dataset", "--dataset-config", "0", "--slices", "4", "--windows", "30",
                 "--episode-len", "15", "--agents", paths["agents"], "--no-progress",
                 "--out", paths["dataset"]]) == 0  # fmt: skip
    sets = [x for k, v in TRAIN_SETS.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    assert main(["train", "--exp-config", "0", "--dataset", paths["dataset"], "--no-bc",
                 "--episodes", "2", "--no-progress", *sets, "--out", paths["run"]]) == 0  # fmt: skip
    return paths


@pytest.fixture
def copy(made, tmp_path):
    def make(kind: str) -> str:
        dst = str(tmp_path / kind)
        shutil.copytree(made[kind], dst)
        return dst

    return make


# ------------------------------------------------------------------- traces


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate", "flip", "edit"])
def test_damaged_trace(copy, capsys, damage):
    folder = copy("traffic")
    path = os.path.join(folder, "thumb_fr_window200.npz")
    if damage == "truncate":
        truncate(path)
    elif damage == "flip":
        flip(path)
    else:
        with np.load(path) as d:
            n = d["trafficTarget_test_actual"].shape[0]
        edit_npz(path, "trafficTarget_test_actual", -np.ones(n, np.int64))
    refused(["evaluate", "--env-config", "0", "--policy", "equal", "--slices", "2",
             "--windows", "5", "--traffic-dir", folder], capsys, path)  # fmt: skip


# ------------------------------------------------------------------- datasets


def _train_argv(dataset: str, out: str) -> list[str]:
    return ["train", "--exp-config", "0", "--dataset", dataset, "--episodes", "1",
            "--no-progress", "--out", out]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    ["shard_truncate", "shard_flip", "meta_truncate", "meta_users", "meta_sha", "meta_window"],
)
def test_damaged_dataset(copy, capsys, tmp_path, damage):
    folder = copy("dataset")
    meta_path = os.path.join(folder, "meta.json")
    with open(meta_path) as f:
        shard = os.path.join(folder, json.load(f)["shards"][0]["file"])
    names = shard
    if damage == "shard_truncate":
        truncate(shard)
    elif damage == "shard_flip":
        flip(shard)
    elif damage == "meta_truncate":
        truncate(meta_path)
        names = meta_path
    elif damage == "meta_users":  # fields edited: refused by meta.json's seal
        edit_json(meta_path, lambda m: m["info"].update(num_users=9) or m.update(num_slices=5))
        names = folder
    elif damage == "meta_sha":  # meta.json is sealed: caught before the shard is read
        edit_json(meta_path, lambda m: m["shards"][0].update(sha256="0" * 64))
        names = meta_path
    else:
        edit_json(meta_path, lambda m: m["shards"][0].update(window_stop=29))
        names = folder
    refused(_train_argv(folder, str(tmp_path / "run")), capsys, names)
    assert not os.path.exists(tmp_path / "run" / "ckpt")  # nothing trained on it


# ------------------------------------------------------------------- sub-agents


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["npz_truncate", "npz_flip", "npz_edit", "json_truncate"])
def test_damaged_subagent(copy, capsys, tmp_path, damage):
    folder = copy("agents")
    npz = os.path.join(folder, "mdp_subagent0.npz")
    names = npz
    if damage == "npz_truncate":
        truncate(npz)
    elif damage == "npz_flip":
        flip(npz)
    elif damage == "npz_edit":  # a policy row past the action table
        with np.load(npz) as d:
            policy = d["policy"].copy()
        policy[0] = 10_000
        edit_npz(npz, "policy", policy)
    else:
        names = os.path.join(folder, "mdp_subagent0.json")
        truncate(names)
    refused(["gen-dataset", "--dataset-config", "0", "--slices", "2", "--windows", "10",
             "--agents", folder, "--no-progress", "--out", str(tmp_path / "ds")], capsys, names)  # fmt: skip
    assert not os.path.exists(tmp_path / "ds")  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize(
    "flag, value, shown",
    [("--windows", "40", "generation.num_windows was 30, now 40"),
     ("--slices", "2", "generation.num_slices was 4, now 2"),
     ("--allocation", "reference", "config.allocation was 'integer', now 'reference'")],
)  # fmt: skip
def test_resume_with_other_flags_names_the_flag(made, copy, capsys, flag, value, shown):
    folder = copy("dataset")
    argv = ["gen-dataset", "--dataset-config", "0", "--slices", "4", "--windows", "30",
            "--episode-len", "15", "--agents", made["agents"], "--no-progress", "--resume",
            "--out", folder]  # fmt: skip
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv[-2:-2] = [flag, value]
    err = refused(argv, capsys, folder)
    assert f"{flag} differs" in err and shown in err and "give the flags it was started" in err
    assert len(err) < 400, err


# ------------------------------------------------------------------- training runs


def _slot_dir(run: str, slot: str) -> str:
    (step,) = [n for n in os.listdir(os.path.join(run, "ckpt", slot)) if n.isdigit()]
    return os.path.join(run, "ckpt", slot, step)


@pytest.mark.slow
@pytest.mark.parametrize(
    "slot, damage",
    [("best", "truncate"), ("best", "flip"), ("best", "meta"), ("latest", "flip"),
     ("latest", "meta")],
)  # fmt: skip
def test_damaged_checkpoint(copy, capsys, slot, damage):
    run = copy("run")
    step_dir = _slot_dir(run, slot)
    if damage == "meta":  # a figure edited in the checkpoint's JSON
        key = "val_loss" if slot == "best" else "best_val_loss"
        edit_json(os.path.join(step_dir, "meta", "metadata"), lambda m: m.update({key: 0.01}))
    else:
        (truncate if damage == "truncate" else flip)(largest_file(os.path.join(step_dir, "state")))
    if slot == "best":
        refused(["evaluate", "--env-config", "0", "--policy", f"dql:{run}", "--slices", "2",
                 "--windows", "5"], capsys, step_dir)  # fmt: skip
    else:
        refused(["train", "--resume", "--no-progress", "--out", run], capsys, step_dir)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["config_truncate", "config_edit", "rows_cut", "rows_torn"])
def test_damaged_run_files(copy, capsys, damage):
    run = copy("run")
    config, rows = os.path.join(run, "config.json"), os.path.join(run, "metrics.jsonl")
    names = config if damage.startswith("config") else rows
    if damage == "config_truncate":
        truncate(config)
    elif damage == "config_edit":
        edit_json(config, lambda c: c.update(exp_config="zero"))
    elif damage == "rows_cut":  # the last row gone, whole lines left
        with open(rows) as f:
            lines = f.readlines()
        with open(rows, "w") as f:
            f.writelines(lines[:-1])
    else:
        truncate(rows)
    refused(["train", "--resume", "--no-progress", "--out", run], capsys, names)


# ------------------------------------------------------------------- pipeline caches


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    previous = use_compile_cache(tmp_path_factory.getbasetemp() / "xla-cache")
    out = str(tmp_path_factory.mktemp("pipe") / "run")
    results = run_pipeline("tiny", out, progress=False, log=lambda s: None)
    yield out, results
    use_compile_cache(previous)


def _figures(results: dict) -> list:
    drop = {"seconds", "train_seconds", "chunk_seconds", "steps_per_s", "compiled",
            "steady_steps_per_s", "solve_seconds", "distill_seconds"}  # fmt: skip

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in drop}
        return [strip(v) for v in x] if isinstance(x, list) else x

    return strip(results["experiments"])


def _report_table(out: str) -> list[str]:
    """The report's result rows and figure links (not its dates and timings)."""
    with open(os.path.join(out, "report.md")) as f:
        return [ln for ln in f if (ln.startswith("| ") and "±" in ln) or ln.startswith("![")]


def _stage(out: str, prefix: str) -> str:
    (folder,) = [n for n in os.listdir(out) if n.startswith(prefix) and "." not in n]
    return os.path.join(out, folder)


def _damage_pipeline(out: str, damage: str) -> str:
    """Damage one cached artefact of a finished pipeline folder; returns its path."""
    if damage == "marker_edited":  # a cached figure changed by hand
        path = os.path.join(_stage(out, "eval-"), "stage.json")
        edit_json(path, lambda m: m["summary"]["results"][0].update(mean_loss=0.0))
    elif damage == "marker_truncated":
        path = os.path.join(_stage(out, "dataset"), "stage.json")
        truncate(path)
    elif damage == "shard_flipped":
        path = glob.glob(os.path.join(_stage(out, "dataset"), "data", "shard-*.npz"))[0]
        flip(path)
    elif damage == "checkpoint_flipped":
        path = largest_file(os.path.join(_stage(out, "dql-exp0-nobc"), "ckpt", "best"))
        flip(path)
    elif damage == "policy_result_truncated":  # an evaluation interrupted, then damaged
        ev = _stage(out, "eval-")
        os.remove(os.path.join(ev, "stage.json"))
        path = sorted(glob.glob(os.path.join(ev, "*.npz")))[0]
        truncate(path)
    elif damage == "results_truncated":
        path = os.path.join(out, "results.json")
        truncate(path)
    elif damage == "results_edited":
        path = os.path.join(out, "results.json")
        edit_json(path, lambda r: r["experiments"][0]["results"][0].update(mean_loss=0.0))
    else:  # report edited
        path = os.path.join(out, "report.md")
        with open(path, "a") as f:
            f.write("| forged | row |\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    ["marker_edited", "marker_truncated", "shard_flipped", "checkpoint_flipped",
     "policy_result_truncated", "results_truncated", "results_edited", "report_edited"],
)  # fmt: skip
def test_damaged_pipeline_cache_is_computed_again(pipeline_run, tmp_path, damage):
    out, results = pipeline_run
    copy = str(tmp_path / "run")
    shutil.copytree(out, copy)
    path = _damage_pipeline(copy, damage)
    lines: list[str] = []
    again = run_pipeline("tiny", copy, progress=False, log=lines.append)
    said = [ln for ln in lines if os.path.basename(path) in ln]
    assert said, lines  # the damaged file is named in the log
    assert _figures(again) == _figures(results)
    assert _report_table(copy) == _report_table(out)
    with open(os.path.join(copy, "results.json")) as f:
        assert _figures(json.load(f)) == _figures(results)
