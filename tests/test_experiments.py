"""The experiment scripts, stage by stage, with --tiny (synthetic traffic, no files).

They run in this process through their main(argv), so the jitted functions
compile once for them and the pipeline tests (same tiny sizes); one subprocess
proves a script also runs as `python experiments/NN_name.py`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from difsched_jax.pipeline.compile_cache import use_compile_cache

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SCRIPTS = ["01_build_agents", "02_gen_datasets", "03_train", "04_evaluate", "05_figures"]


def _script(name: str):
    if str(EXPERIMENTS) not in sys.path:  # their `import _common`, as when run as scripts
        sys.path.insert(0, str(EXPERIMENTS))
    spec = importlib.util.spec_from_file_location(f"experiments_{name}", EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def compile_cache(tmp_path_factory):
    """One persistent XLA cache for the pipeline and experiment tests of a session:
    their tiny runs share programs (the tests take half the time); restored after."""
    previous = use_compile_cache(tmp_path_factory.getbasetemp() / "xla-cache")
    yield
    use_compile_cache(previous)


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """Stages 1-5 in order into one folder; returns (folder, printed output per script)."""
    out = str(tmp_path_factory.mktemp("experiments"))
    args = {
        "01_build_agents": ["--subagents", "0"],
        "02_gen_datasets": ["--datasets", "0", "2"],
        "03_train": ["--experiments", "0"],
        "04_evaluate": ["--experiments", "0"],
        "05_figures": ["--experiments", "0"],
    }
    return out, {name: [*args[name], "--tiny", "--out", out] for name in SCRIPTS}


@pytest.mark.slow
def test_stages_in_order(workflow, capsys):
    out, argv = workflow
    printed = {}
    for name in SCRIPTS:
        assert _script(name).main(argv[name]) == 0, name
        printed[name] = capsys.readouterr().out
    assert "sub-agent 0:" in printed["01_build_agents"]
    assert "dataset 2 (8 users, B = 100, thumb_fr)" in printed["02_gen_datasets"]
    assert "experiment 0 nobc: best validation loss" in printed["03_train"]
    assert "| Diffusion-QL (no BC) |" in printed["04_evaluate"]
    with open(os.path.join(out, "results", "exp0.json")) as f:
        labels = [r["label"] for r in json.load(f)["results"]]
    assert labels[4:6] == ["Diffusion-QL (BC)", "Diffusion-QL (no BC)"] and len(labels) == 8
    for fig in ("summary.png", "exp0_alloc.png", "exp0_training.png"):
        assert os.path.getsize(os.path.join(out, "figures", fig)) > 1000, fig
    with open(os.path.join(out, "figures", "results.md")) as f:
        assert "| oracle (perfect obs) | perfect |" in f.read()
    # a second 03 finds the runs finished
    assert _script("03_train").main(argv["03_train"]) == 0
    assert capsys.readouterr().out.count("trained already") == 2


@pytest.mark.slow
def test_script_runs_as_a_script():
    """`python experiments/01_build_agents.py --help`: the scripts find `_common`."""
    proc = subprocess.run(
        [sys.executable, str(EXPERIMENTS / "01_build_agents.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--tiny" in proc.stdout and "--traffic-dir" in proc.stdout
