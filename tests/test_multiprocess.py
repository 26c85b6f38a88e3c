"""Several processes for real: `difsched gen-dataset --distributed` on 2 local processes
(jax.distributed, coordinator on 127.0.0.1, CPU backend) against one process.

- 2 processes write exactly the arrays of 1 process (same seed, same slice count);
- one process killed midway: the other exits with the clear error in bounded time
  (at once when the coordinator is the one killed), the partial output never
  loads, and a rerun with --resume ends identical;
- a process whose peers never come exits with a clear error after --init-timeout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from difsched_jax.cli import main
from difsched_jax.data import DatasetError, load_dataset
from difsched_jax.distributed import EXIT_HOST_LOST

DIFSCHED = [sys.executable, "-m", "difsched_jax.cli", "gen-dataset"]
# 4 slices x 1200 windows in shards of 10 windows: a few seconds of generation, so a
# process can be killed between its first and its last shard
SIZES = ["--dataset-config", "0", "--slices", "4", "--windows", "1200", "--episode-len", "20",
         "--chunk-windows", "10", "--seed", "5", "--no-progress"]  # fmt: skip
HEARTBEAT_S = 10
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(out, log, *extra) -> subprocess.Popen:
    with open(log, "w") as f:
        return subprocess.Popen(DIFSCHED + SIZES + ["--out", str(out), *extra], env=ENV,
                                stdout=f, stderr=subprocess.STDOUT)  # fmt: skip


def _launch_pair(out, logs, *extra) -> list[subprocess.Popen]:
    port = _free_port()
    flags = ["--distributed", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
             "--heartbeat-timeout", str(HEARTBEAT_S), *extra]  # fmt: skip
    return [_launch(out, logs[i], *flags, "--process-id", str(i)) for i in range(2)]


def _wait(procs, logs, timeout=150) -> list[int]:
    try:
        return [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            print(f"--- {log}\n{open(log).read()[-3000:]}")


def _assert_same(folder, expected: dict) -> None:
    got = load_dataset(folder).arrays()
    assert sorted(got) == sorted(expected)
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The arrays (and printed mean loss) of one process, same seed and sizes."""
    root = tmp_path_factory.mktemp("single")
    proc = subprocess.run(DIFSCHED + SIZES + ["--out", str(root / "ds")], env=ENV,
                          capture_output=True, text=True, timeout=150)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    mean_loss = [line for line in proc.stdout.splitlines() if line.startswith("mean loss")]
    arrays = load_dataset(root / "ds").arrays()
    assert arrays["obs"].shape == (1200, 4, 8)  # 1 sub-agent set x 4 slices, 8 users
    return arrays, mean_loss


@pytest.mark.slow
def test_two_processes_write_the_arrays_of_one(tmp_path, single):
    expected, mean_loss = single
    logs = [tmp_path / f"p{i}.log" for i in range(2)]
    assert _wait(_launch_pair(tmp_path / "ds", logs), logs) == [0, 0]
    parts = sorted(os.listdir(tmp_path / "ds"))
    assert parts == ["part-000-of-002", "part-001-of-002"]
    metas = [json.loads((tmp_path / "ds" / p / "meta.json").read_text()) for p in parts]
    assert [(m["part"]["slice_start"], m["part"]["slice_stop"]) for m in metas] == [(0, 2), (2, 4)]
    _assert_same(tmp_path / "ds", expected)
    # process 0 read the joined dataset: the same mean loss as the single run printed
    assert mean_loss and mean_loss[0] in logs[0].read_text()


def _kill_midway(out, logs, victim: int) -> tuple[list[int], float]:
    """Start 2 processes, SIGKILL `victim` once its part lists a shard; (exit codes,
    seconds from the kill until both ended)."""
    procs = _launch_pair(out, logs)
    meta = out / f"part-{victim:03d}-of-002" / "meta.json"
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and procs[victim].poll() is None:
        try:
            if json.loads(meta.read_text())["shards"]:
                break
        except (OSError, ValueError):  # not written yet, or being replaced
            pass
        time.sleep(0.02)
    procs[victim].send_signal(signal.SIGKILL)  # its worker dies with it (PR_SET_PDEATHSIG)
    killed_at = time.monotonic()
    codes = _wait(procs, logs, timeout=HEARTBEAT_S + 60)
    return codes, time.monotonic() - killed_at


@pytest.mark.slow
def test_killed_process_stops_the_other_then_resume_is_identical(tmp_path, single):
    expected, _ = single
    out, logs = tmp_path / "ds", [tmp_path / f"p{i}.log" for i in range(2)]
    codes, waited = _kill_midway(out, logs, victim=1)
    assert codes == [EXIT_HOST_LOST, -signal.SIGKILL]
    assert waited < HEARTBEAT_S + 30, f"the survivor took {waited:.0f} s to stop"
    text = logs[0].read_text()
    assert "difsched gen-dataset: error: process 0 of 2 stopped" in text
    assert "is incomplete and will not load" in text and "--resume" in text

    victim_meta = out / "part-001-of-002" / "meta.json"
    victim = json.loads(victim_meta.read_text())
    assert not victim["complete"] and 1 <= len(victim["shards"]) < 120  # killed midway
    with pytest.raises(DatasetError, match="incomplete"):
        load_dataset(out)
    with pytest.raises(DatasetError):  # one part alone is never a dataset either
        load_dataset(out / "part-000-of-002")

    assert _wait(_launch_pair(out, logs, "--resume"), logs) == [0, 0]
    _assert_same(out, expected)
    resumed = json.loads(victim_meta.read_text())["resumed"]
    assert resumed[-1]["shards_kept"] >= 1  # continued from its shards, not from scratch


@pytest.mark.slow
def test_killed_coordinator_stops_the_other_at_once(tmp_path):
    out, logs = tmp_path / "ds", [tmp_path / f"p{i}.log" for i in range(2)]
    codes, waited = _kill_midway(out, logs, victim=0)
    assert codes == [-signal.SIGKILL, EXIT_HOST_LOST]
    assert waited < HEARTBEAT_S + 20, f"the survivor took {waited:.0f} s to stop"  # bounded
    text = logs[1].read_text()  # aborted by JAX, or failed at the final barrier if done first
    assert "difsched gen-dataset: error: process 1 of 2 stopped" in text
    assert "is incomplete and will not load" in text
    with pytest.raises(DatasetError):
        load_dataset(out)


@pytest.mark.slow
def test_a_process_alone_stops_after_the_init_timeout(tmp_path):
    log = tmp_path / "p1.log"
    flags = ["--distributed", "--coordinator", f"127.0.0.1:{_free_port()}", "--num-processes",
             "2", "--process-id", "1", "--init-timeout", "3"]  # fmt: skip
    t0 = time.monotonic()
    assert _wait([_launch(tmp_path / "ds", log, *flags)], [log], timeout=90) == [EXIT_HOST_LOST]
    assert time.monotonic() - t0 < 60
    assert "process 1 of 2 stopped: could not join the run within 3 s" in log.read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--coordinator", "127.0.0.1:1234"], "need --distributed"),
        (
            ["--distributed", "--num-processes", "2", "--process-id", "2"],
            "process_id must be in 0..1",
        ),
        (["--distributed", "--coordinator", "nohost"], "coordinator must be HOST:PORT"),
        (["--distributed", "--heartbeat-timeout", "0"], "heartbeat_timeout must be"),
    ],
)
def test_bad_distributed_flags_give_clear_errors(tmp_path, capsys, extra, message):
    argv = ["gen-dataset", "--dataset-config", "0", "--out", str(tmp_path / "x"), *extra]
    assert main(argv) == 2  # refused before any process starts
    err = capsys.readouterr().err
    assert "difsched gen-dataset: error:" in err and message in err
    assert not (tmp_path / "x").exists()
