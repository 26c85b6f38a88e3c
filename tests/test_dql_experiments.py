"""experiments/dql_{ablation,scaling,transfer}.py: the arguments each row or size hands
to dql_table.py, and their tables and figures (on made-up results: the training itself
is covered by tests/test_train_dql_table.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _script(name: str):
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXPERIMENTS))
    return module


def _cell(mean, seeds):
    return [mean, 0.01, seeds]


def test_ablation_rows_change_one_setting_each(tmp_path):
    abl = _script("dql_ablation")
    args = abl.parse_args(["--out", str(tmp_path), "--exp", "1", "--seeds", "0,1,2"])
    default = abl.dql_table.parse_args(abl._table_argv(args, "default"))
    # the default row is dql_table.py's own runs, but never overwrites its table
    assert (default.tag, default.table_name) == ("default", "ablation_default_default")
    table_args = abl.dql_table.parse_args(abl._table_argv(args, "additive"))
    assert table_args.set == ['critic_structure="additive"'] and table_args.tag == "abl_additive"
    assert (table_args.exps, table_args.variants, table_args.seeds) == ("1", "nobc", "0,1,2")
    assert table_args.behaviour_noise == 0.5
    noise0 = abl.dql_table.parse_args(abl._table_argv(args, "noise0"))
    assert noise0.behaviour_noise == 0.0 and noise0.set == []
    assert abl.dql_table.parse_args(abl._table_argv(args, "default")).set == []
    with pytest.raises(SystemExit, match="unknown row 'bogus'"):
        abl.run(["--out", str(tmp_path), "--rows", "default,bogus"])


def test_ablation_table_and_figure(tmp_path):
    abl = _script("dql_ablation")
    payload = {
        "exp": 0,
        "rows": {
            "default": {"what": "ours", "loss": _cell(0.26, [0.25, 0.26, 0.27]), "gap": [1.0, 0.1]},
            "mlp": {
                "what": "MLP",
                "loss": _cell(0.28, [0.28, 0.28, 0.28]),
                "gap": [2.5, 0.2],
                "nfe": 300,
            },
        },
        "reference": {"equal": 0.297, "oracle": 0.250},
    }
    text = abl.table(payload)
    assert "| MLP | 300 | 0.2800 ± 0.0100 (n=3) | +0.0200 | 2.50 ± 0.20 |" in text
    assert "| ours |  | 0.2600 ± 0.0100 (n=3) |  | 1.00 ± 0.10 |" in text  # no cost given
    assert "| equal share | | 0.2970 |" in text
    assert "| oracle (predicted obs) | | 0.2500 |" in text
    abl.plot(payload, str(tmp_path / "a.png"))
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_scaling_sizes_are_whole_slices(tmp_path):
    scaling = _script("dql_scaling")
    args = scaling.parse_args(["--out", str(tmp_path), "--seeds", "0,1"])
    targs = scaling._table_args(args, 10_000)
    assert (targs.data_slices, targs.data_windows, targs.tag) == (10, 1000, "default_n10000")
    # 100 slices: dql_table.py's default dataset, so its own runs (same tag)
    assert scaling._table_args(args, 100_000).tag == "default"
    with pytest.raises(SystemExit, match="whole number"):
        scaling._table_args(args, 12_345)
    row = {"transitions": 10_000, "dql": _cell(0.27, [0.26, 0.28]), "equal": 0.3, "oracle": 0.25}
    payload = {"results": {"0": [row, {**row, "transitions": 100_000}]}}
    scaling.plot(payload, str(tmp_path / "s.png"))
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_transfer_table_marks_missing_runs():
    transfer = _script("dql_transfer")
    results = {
        "0": {
            "synthetic": {
                "equal": 0.3,
                "oracle": 0.25,
                "synthetic": _cell(0.26, [0.26]),
                "real": None,
            },  # fmt: skip
        }
    }
    text = transfer.table(results)
    assert "| 0 | synthetic | 0.300 | 0.250 | 0.260 ± 0.010 (n=1) | – |" in text
