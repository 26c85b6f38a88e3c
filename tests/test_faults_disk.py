"""A full disk: a small tmpfs (mounted here when the tests run as root, as in CI;
elsewhere skipped, saying so). The command ends with exit status 1 and one line,
leaves nothing that loads as a finished artefact, and once space is freed
`--resume` finishes with the data an uninterrupted run gives."""

from __future__ import annotations

import json
import os
import subprocess

import jax
import numpy as np
import pytest

from difsched_jax.cli import main
from difsched_jax.data import DatasetError, load_dataset
from difsched_jax.pipeline.presets import TINY_AGENT, TINY_RUN
from difsched_jax.train.dql import load_policy

SETS = {**TINY_AGENT, **{k: v for k, v in TINY_RUN.items() if "explore" not in k}}
SETS.pop("greedy_slices")


@pytest.fixture
def small_disk(tmp_path):
    """(folder, resize): a tmpfs of 40 KiB at `folder`; resize(kib) grows it."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(folder)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root; the full-disk cases were not tried")

    def resize(kib: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={kib}k", str(folder)], check=True)

    yield str(folder), resize
    subprocess.run(["umount", str(folder)], check=True)


def _one_line_error(capsys, argv) -> str:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1, (code, err)
    assert len(err.splitlines()) == 1 and err.startswith(f"difsched {argv[0]}: error:"), err
    return err


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("agents"))
    assert main(["build-agent", "--subagent-config", "0", "--out", folder]) == 0
    return folder


def _gen_argv(agents: str, out: str) -> list[str]:
    return ["gen-dataset", "--dataset-config", "0", "--slices", "4", "--windows", "40",
            "--episode-len", "20", "--chunk-windows", "8", "--agents", agents,
            "--no-progress", "--out", out]  # fmt: skip


@pytest.mark.slow
def test_full_disk_during_gen_dataset(small_disk, agents, tmp_path, capsys):
    disk, resize = small_disk
    out = os.path.join(disk, "ds")
    err = _one_line_error(capsys, _gen_argv(agents, out))
    assert "No space left on device" in err and "--resume" in err
    with pytest.raises(DatasetError, match="incomplete"):
        load_dataset(out)
    assert not [n for n in os.listdir(out) if ".tmp" in n]
    resize(1024)
    assert main([*_gen_argv(agents, out), "--resume"]) == 0
    reference = str(tmp_path / "reference")
    assert main(_gen_argv(agents, reference)) == 0
    got, want = load_dataset(out).arrays(), load_dataset(reference).arrays()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@pytest.mark.slow
def test_full_disk_during_training(small_disk, agents, tmp_path, capsys):
    disk, resize = small_disk
    dataset = str(tmp_path / "ds")
    assert main(_gen_argv(agents, dataset)) == 0
    out = os.path.join(disk, "run")
    sets = [x for k, v in SETS.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    argv = ["train", "--exp-config", "0", "--dataset", dataset, "--no-bc", "--episodes", "2",
            "--no-progress", *sets, "--out", out]  # fmt: skip
    err = _one_line_error(capsys, argv)
    assert "free space, then rerun with --resume" in err
    with pytest.raises(ValueError, match="no best checkpoint"):
        load_policy(out)
    resize(8192)
    assert main(["train", "--resume", "--no-progress", "--out", out]) == 0
    reference = str(tmp_path / "reference")
    assert main([*argv[:-1], reference]) == 0
    assert _rows(out) == _rows(reference)
    _, params, _ = load_policy(out)
    _, ref_params, _ = load_policy(reference)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ref_params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _rows(run: str) -> list[dict]:
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in f]


@pytest.mark.slow
def test_full_disk_during_evaluate_names_the_file_and_leaves_nothing(small_disk, capsys):
    disk, _ = small_disk
    with open(os.path.join(disk, "filler"), "wb") as f:  # leave too little for the figure
        f.write(b"\0" * 36 * 1024)
    json_path, plot = os.path.join(disk, "e.json"), os.path.join(disk, "e.png")
    argv = ["evaluate", "--policy", "equal,random", "--slices", "2", "--windows", "4",
            "--json", json_path, "--plot", plot]  # fmt: skip
    err = _one_line_error(capsys, argv)
    assert "No space left on device" in err and "nothing was written" in err
    assert json_path in err or plot in err, err
    assert sorted(os.listdir(disk)) in (["filler"], ["e.json", "filler"])  # no .tmp, no PNG
    if os.path.exists(json_path):  # the JSON fitted: then it is whole
        with open(json_path) as f:
            assert json.load(f)["results"]


def test_pipeline_advice_on_a_full_disk_is_its_own(tmp_path, capsys, monkeypatch):
    import difsched_jax.pipeline

    def full(*args, **kwargs):  # what a stage's checkpoint write says on a full disk
        raise OSError(28, "could not save: No space left on device; free space, then rerun "
                      "with --resume")  # fmt: skip

    monkeypatch.setattr(difsched_jax.pipeline, "run_pipeline", full)
    argv = ["pipeline", "--preset", "tiny", "--compile-cache", "none", "--out", str(tmp_path)]
    err = _one_line_error(capsys, argv)
    assert "--resume" not in err and "run the same pipeline command again" in err, err
