"""`difsched evaluate`: single and comparison mode, JSON, plots, clear errors."""

from __future__ import annotations

import json

import pytest

from difsched_jax.cli import main

SIZES = ["--slices", "256", "--windows", "10"]  # as test_evaluate.py: compiled rollouts reused


@pytest.mark.slow
def test_comparison_mode_table_json_and_bar_chart(tmp_path, capsys):
    out_json, out_png = tmp_path / "r.json", tmp_path / "bars.png"
    argv = ["evaluate", "--env-config", "0", "--policy", "equal,oracle,oracle-perfect"]
    rc = main(argv + SIZES + ["--json", str(out_json), "--plot", str(out_png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| policy | obs | mean loss" in text and "| oracle-perfect | perfect |" in text
    assert "allocation integer (whole resource blocks" in text.splitlines()[0]
    assert "Δ vs oracle (paired)" in text
    payload = json.loads(out_json.read_text())
    assert [r["policy"] for r in payload["results"]] == ["equal", "oracle", "oracle-perfect"]
    assert payload["alignment"] == "reference" and payload["traffic"] == "synthetic"
    assert payload["allocation"] == "integer" and payload["config"]["allocation"] == "integer"
    assert len(payload["results"][0]["slice_losses"]) == 256
    assert payload["config"]["num_users"] == 8 and "mean_loss" not in payload
    assert out_png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_single_policy_histogram(tmp_path):
    out_json, out_png = tmp_path / "one.json", tmp_path / "hist.png"
    argv = ["evaluate", "--policy", "equal", "--alignment", "aligned"] + SIZES
    assert main(argv + ["--json", str(out_json), "--plot", str(out_png)]) == 0
    payload = json.loads(out_json.read_text())
    assert payload["policy"] == "equal" and 0 < payload["mean_loss"] < 1
    assert payload["slices"] == 256 and payload["windows"] == 10
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_bad_input_gives_clear_errors(capsys):
    cases = [
        (["--policy", "greedy"], "unknown policy 'greedy'"),
        (["--policy", "equal,equal"], "more than once"),
        (["--slices", "1"], "slices must be an integer >= 2"),
        (["--windows", "0"], "windows must be an integer >= 1"),
        (["--env-config", "7"], "unknown env config index 7"),
        (["--policy", "oracle:x"], "takes no ':' argument"),
        (["--traffic-dir", "/nonexistent-dir"], "nonexistent-dir"),
    ]
    for extra, message in cases:
        assert main(["evaluate", "--slices", "2", "--windows", "1"] + extra) == 2, extra
        err = capsys.readouterr().err
        assert "difsched evaluate: error:" in err and message in err, (extra, err)
