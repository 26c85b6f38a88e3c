"""experiments/dql_table.py with its --tiny budget: datasets, runs, test-split table."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "dql_table.py"


def _script():
    spec = importlib.util.spec_from_file_location("dql_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tiny_table(tmp_path, capsys):
    table = _script()
    out = str(tmp_path / "t")
    argv = ["--tiny", "--out", out, "--exps", "0", "--variants", "bc", "--seeds", "0,1"]
    payload = table.run(argv + ["--set", "gamma=0.5", "--tag", "g5"])
    res = payload["results"]["0"]
    mean, half, seeds = res["bc"]
    assert len(seeds) == 2 and abs(mean - sum(seeds) / 2) < 1e-12 and half > 0
    for name in ("behaviour", "equal", "oracle"):
        assert 0.0 <= res[name][0] <= 1.0
    text = capsys.readouterr().out
    assert "| 0 (8 users, B 100, thumb_fr) |" in text and "(n=2)" in text
    with open(os.path.join(out, "table_g5.json")) as f:
        assert json.load(f)["settings"] == {"gamma": 0.5}
    run_dir = os.path.join(out, "runs", "g5_e0_bc_s1")
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["agent"]["gamma"] == 0.5
    assert os.path.getsize(os.path.join(out, "table_g5.png")) > 0
    # a second call reuses the finished runs and gives the same table
    again = table.run(argv + ["--set", "gamma=0.5", "--tag", "g5"])
    assert again["results"]["0"]["bc"][2] == seeds
    # --no-train tabulates the seeds that have finished (seed 5 never ran) and trains none
    done = table.run(["--tiny", "--out", out, "--exps", "0", "--variants", "bc", "--seeds",
                      "0,1,5", "--set", "gamma=0.5", "--tag", "g5", "--no-train"])  # fmt: skip
    assert done["results"]["0"]["bc"][2] == seeds
    assert not os.path.exists(os.path.join(out, "runs", "g5_e0_bc_s5"))
