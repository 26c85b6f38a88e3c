"""kill -9 inside the test command: a part of `tests/faults/kill_matrix.py`'s matrix
(every gen-dataset point, one point of train and train-drl, each inside a write),
and proof that its comparisons can fail. The whole matrix, pipeline included, is
`python tests/faults/kill_matrix.py`."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "faults"))
import kill_matrix  # noqa: E402

SUBSET = {
    "gen-dataset": kill_matrix.POINTS["gen-dataset"],
    "train": [("ckpt_write", 2)],
    "train-drl": [("ckpt_write", 3)],
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("kill"))
    return work, kill_matrix.run_matrix(work, SUBSET, log=lambda s: None)


@pytest.mark.slow
def test_killed_runs_finish_identical(matrix):
    _, cases = matrix
    assert len(cases) == sum(len(p) for p in SUBSET.values())
    for c in cases:
        assert c.killed, (c.command, c.point, c.detail)
        assert c.rerun_ok and c.identical and c.lost == 0 and not c.tracebacks, c
    writes = [c for c in cases if c.point == "ckpt_write"]
    assert all("during ckpt_write" in c.notes[0] for c in writes), [c.notes for c in writes]


@pytest.mark.slow
def test_comparisons_see_a_difference(matrix, tmp_path):
    work, _ = matrix
    env = kill_matrix.matrix_env(work)
    ref = os.path.join(work, "gen-dataset-reference")
    other = str(tmp_path / "other-seed")
    argv, _ = kill_matrix.command_argv("gen-dataset", other, work)
    argv[argv.index("--seed") + 1] = "4"
    assert kill_matrix.difsched(argv, env)[0] == 0
    same, _, detail = kill_matrix.compare_datasets(ref, other)
    assert not same and "differs" in detail
    run = os.path.join(work, "train-reference")
    cut = str(tmp_path / "cut")
    shutil.copytree(run, cut)
    with open(os.path.join(cut, "metrics.jsonl")) as f:
        lines = f.readlines()
    with open(os.path.join(cut, "metrics.jsonl"), "w") as f:
        f.writelines(lines[:-1])
    same, lost, detail = kill_matrix.compare_runs(run, cut)
    assert not same and lost == 1 and "metrics rows differ" in detail


# Ctrl-C and SIGTERM: one point each, one of them inside an XLA compile
SIGNAL_CASES = [
    ("gen-dataset", "shard_tmp", 3, "INT"),
    ("train", "xla_compile", 3, "TERM"),
    ("train-drl", "rows_written", 2, "INT"),
]


@pytest.mark.slow
@pytest.mark.parametrize("command,point,nth,sig", SIGNAL_CASES)
def test_signals_end_in_one_line_and_the_run_resumes_identical(matrix, command, point, nth, sig):
    work, _ = matrix
    env = kill_matrix.matrix_env(work)
    reference = os.path.join(work, f"{command}-reference")
    case = kill_matrix.run_case(kill_matrix.Case(command, point, nth, sig), work, env, reference)
    assert case.passed, case
    said = case.notes[1]  # the one line the command printed
    assert f"difsched {command}: interrupted (SIG{sig}): " in said
    assert "--resume" in said and "keeps" in said, said
    if point == "xla_compile":  # 50 ms into the compile: inside it, or just after a fast one
        assert "inside XLA compile" in case.notes[0] or "right after XLA compile" in case.notes[0]
