"""`difsched pipeline` end to end with the tiny preset (synthetic traffic, no files):
the report holds the table and its images, results.json every policy, a second
run skips every stage, an interrupted evaluation resumes, and the CLI's help works.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from difsched_jax.cli import build_parser, main
from difsched_jax.config import get_env_config
from difsched_jax.evaluate.compare import compare_policies, eval_trace
from difsched_jax.pipeline import get_preset, run_pipeline
from difsched_jax.pipeline.compile_cache import use_compile_cache
from difsched_jax.pipeline.stages import Stage, content_hash

LABELS = [
    "random",
    "proportional",
    "equal share",
    "MDP behaviour",
    "Diffusion-QL (BC)",
    "Diffusion-QL (no BC)",
    "oracle (predicted obs)",
    "oracle-calibrated",
    "oracle-bayes (in-sample floor)",
    "oracle (perfect obs)",
]


@pytest.fixture(scope="module", autouse=True)
def compile_cache(tmp_path_factory):
    """One persistent XLA cache for the pipeline and experiment tests of a session:
    their tiny runs share programs (the tests take half the time); restored after."""
    previous = use_compile_cache(tmp_path_factory.getbasetemp() / "xla-cache")
    yield
    use_compile_cache(previous)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pipeline") / "run")
    lines: list[str] = []
    results = run_pipeline("tiny", out, progress=False, log=lines.append)
    return out, results, lines


@pytest.mark.slow
def test_report_has_table_and_images(tiny_run):
    out, _, _ = tiny_run
    with open(os.path.join(out, "report.md")) as f:
        report = f.read()
    assert "| policy | observation | mean packet loss ± 95 % CI |" in report
    for label in LABELS:
        assert f"| {label} |" in report, label
    assert "Allocation: integer (whole resource blocks" in report
    assert "Δ vs oracle-bayes (paired 95 % CI)" in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    names = {os.path.basename(p) for p in images}
    assert {"comparison.png", "losses.png", "allocations.png", "curves.png"} <= names
    for rel in images:
        path = os.path.join(out, rel)
        assert os.path.getsize(path) > 1000, rel


@pytest.mark.slow
def test_results_json_has_every_policy(tiny_run):
    out, results, lines = tiny_run
    with open(os.path.join(out, "results.json")) as f:
        saved = json.load(f)
    assert saved["experiments"][0]["experiment"] == 0
    rows = saved["experiments"][0]["results"]
    assert [r["label"] for r in rows] == LABELS
    for r in rows:
        assert 0.0 <= r["mean_loss"] <= 1.0 and r["ci95"] >= 0.0
        assert not r["policy"].partition(":")[2].startswith("/")  # run-folder-relative
    # the floor: perfect observation is no worse than predicted for the oracle
    assert rows[-1]["mean_loss"] <= rows[-2]["mean_loss"] + 0.05
    assert [s["status"] for s in saved["stages"]] == ["ran"] * 5
    assert saved["allocation"] == "integer"
    by = {r["label"]: r for r in rows}
    for r in rows:  # every row paired with the floor and the oracle, slice by slice
        assert set(r["paired_difference"]) == {"oracle-bayes", "oracle"}
        assert len(r["slice_losses"]) == r["slices"]
    assert by["oracle-bayes (in-sample floor)"]["paired_difference"]["oracle-bayes"]["mean"] == 0
    assert any("stage dql-exp0-bc" in line for line in lines)


@pytest.mark.slow
def test_numbers_match_evaluate(tiny_run):
    """Same key, sizes and env as `difsched evaluate`: the same mean for a heuristic."""
    _, results, _ = tiny_run
    preset = get_preset("tiny")
    config = get_env_config(0)
    row = compare_policies(
        "equal",
        config,
        eval_trace(config),
        num_slices=preset.eval_slices,
        num_windows=preset.eval_windows,
        episode_len=preset.eval_episode_len,
    )[0]
    ours = next(r for r in results["experiments"][0]["results"] if r["label"] == "equal share")
    assert ours["mean_loss"] == pytest.approx(row.result.mean_loss, abs=1e-12)


@pytest.mark.slow
def test_second_run_skips_every_stage(tiny_run, capsys):
    out, results, _ = tiny_run
    assert main(["pipeline", "--preset", "tiny", "--out", out, "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    skipped = [line for line in lines if "done already, skipping" in line]
    assert len(skipped) == 6, lines  # agents, dataset, 2 trainings, evaluation, report
    assert not any("running" in line or "resuming" in line for line in lines)


@pytest.mark.slow
def test_interrupted_evaluation_resumes(tiny_run):
    """A crash mid-evaluation: no marker, one policy's file missing. The next run
    evaluates only that policy again and reaches the same numbers."""
    out, results, _ = tiny_run
    (ev,) = [d for d in os.listdir(out) if d.startswith("eval-exp0-")]
    os.remove(os.path.join(out, ev, "stage.json"))
    (equal,) = [f for f in os.listdir(os.path.join(out, ev)) if f.startswith("equal-share-")]
    os.remove(os.path.join(out, ev, equal))
    lines: list[str] = []
    again = run_pipeline("tiny", out, progress=False, log=lines.append)
    assert any(f"stage eval-exp0: resuming -> {ev}" in line for line in lines)
    # the others, and the report: the re-evaluated numbers are the same
    assert sum("done already" in line for line in lines) == 5
    with open(os.path.join(out, ev, "stage.json")) as f:
        redone = json.load(f)["summary"]["results"]
    old = results["experiments"][0]["results"]
    assert [r["mean_loss"] for r in redone] == [r["mean_loss"] for r in old]
    assert again["experiments"][0]["results"] == old


def test_stage_hash_is_content_addressed(tmp_path):
    a = Stage(str(tmp_path), "x", {"seed": 0, "n": [1, 2]})
    assert a.hash == Stage(str(tmp_path), "x", {"n": [1, 2], "seed": 0}).hash
    assert a.hash != Stage(str(tmp_path), "x", {"seed": 1, "n": [1, 2]}).hash
    assert not a.done
    os.makedirs(a.path)
    a.finish({"ok": 1}, 0.5)
    assert a.done and a.summary == {"ok": 1}
    assert a.folder == f"x-{content_hash({'seed': 0, 'n': [1, 2]})}"


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown preset"):
        run_pipeline("huge", "unused")
    with pytest.raises(ValueError, match="deep-RL"):
        run_pipeline("tiny", "unused", drl=("a2c",))


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert "pipeline" in sub.choices
    for name in sub.choices:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0, name
        assert "usage: difsched" in capsys.readouterr().out
