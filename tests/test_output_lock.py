"""Two writers, one folder: a command aimed at an output folder that a running
process holds is refused at once (exit 2, one line), and the holder finishes
unharmed. The lock goes with its holder, even on kill -9."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from difsched_jax.cli import main
from difsched_jax.data import load_dataset
from difsched_jax.locking import FolderBusy, folder_in_use, hold_folder

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}
# a few seconds of generation in shards of 10 windows (as tests/test_multiprocess.py)
GEN = ["gen-dataset", "--dataset-config", "0", "--slices", "4", "--windows", "600",
       "--episode-len", "20", "--chunk-windows", "10", "--seed", "5", "--no-progress"]  # fmt: skip
HOLD = (
    "import sys, time\n"
    "from difsched_jax.locking import hold_folder\n"
    "with hold_folder(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def _holder(folder):
    """Another process that holds `folder`'s lock until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE,
                            text=True, env=ENV)  # fmt: skip
    assert proc.stdout.readline().strip() == "held"
    return proc


# the function that does each command's work: never reached by a refused run
WORK = {
    "gen-dataset": ("difsched_jax.cli.gen_dataset", "generate"),
    "train": ("difsched_jax.train.dql", "train"),
    "train-drl": ("difsched_jax.train.drl", "train"),
    "pipeline": ("difsched_jax.pipeline", "run_pipeline"),
}


def _refused(capsys, monkeypatch, argv, command):
    def work(*args, **kwargs):
        raise AssertionError(f"{command} started its work in a folder another process holds")

    monkeypatch.setattr(importlib.import_module(WORK[command][0]), WORK[command][1], work)
    t0 = time.monotonic()
    assert main(argv) == 2
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"difsched {command}: error: ") and "is in use by another" in err, err
    assert took < 60, f"refused after {took:.1f} s"  # imports only: no traffic, no compile


@pytest.mark.slow
def test_second_gen_dataset_is_refused_and_the_first_finishes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "ds"
    first = subprocess.Popen([sys.executable, "-m", "difsched_jax.cli", *GEN, "--out", str(out)],
                             stderr=subprocess.PIPE, text=True, env=ENV)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (out / "meta.json").exists():  # generating (it holds the lock from the start)
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first run never started writing"
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)  # it cannot finish while the second one tries
        with pytest.raises(ValueError, match="a running gen-dataset is still writing it"):
            load_dataset(out)  # not "interrupted: finish it with --resume"
        before = sorted(os.listdir(out))
        _refused(capsys, monkeypatch, [*GEN, "--out", str(out), "--resume"], "gen-dataset")
        assert sorted(os.listdir(out)) == before  # the second one touched nothing
        first.send_signal(signal.SIGCONT)
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        first.kill()
        first.wait()
    ds = load_dataset(out)  # checksums verified
    assert ds.meta["complete"] and ds.num_transitions == 4 * 600
    assert np.isfinite(ds.arrays()["loss"]).all()


@pytest.mark.parametrize(
    "command, argv",
    [
        ("train", ["train", "--exp-config", "0", "--dataset", "DATA", "--no-progress"]),
        ("train-drl", ["train-drl", "--algo", "ppo", "--env-config", "0", "--no-progress"]),
        ("pipeline", ["pipeline", "--preset", "tiny", "--compile-cache", "none", "--no-progress"]),
    ],
)
def test_other_writers_are_refused(tmp_path, capsys, monkeypatch, command, argv):
    out = tmp_path / "run"
    argv = [str(tmp_path) if a == "DATA" else a for a in argv] + ["--out", str(out)]
    holder = _holder(out)
    try:
        _refused(capsys, monkeypatch, argv, command)
        assert os.listdir(out) == []  # nothing written beside the holder
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_goes_with_its_holder(tmp_path):
    out = tmp_path / "a" / "b"
    holder = _holder(out)
    assert folder_in_use(out) and not folder_in_use(tmp_path)
    with pytest.raises(FolderBusy, match="is in use by another"):
        with hold_folder(out):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert not folder_in_use(out)
    with hold_folder(out):  # free again after kill -9
        (out / "x").write_text("")
    assert (out / "x").exists()  # a folder with contents is kept
    (out / "x").unlink()
    with hold_folder(tmp_path / "c" / "d"):
        pass
    assert not (tmp_path / "c").exists()  # empty folders it made are removed again
