"""Without --out, commands write under data/ (or $DIFSCHED_DATA) in the reference's layout."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from difsched_jax import paths
from difsched_jax.cli import main
from difsched_jax.config import get_dataset_config
from difsched_jax.data import load_dataset
from difsched_jax.traffic import align_trace, get_trace, source_path, synthetic_trace


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
    return tmp_path


def test_default_folders_follow_the_reference_layout(root, monkeypatch):
    assert paths.traffic_dir() == str(root / "processed" / "traffic")
    assert paths.agents_dir() == str(root / "results" / "MdpPolicy")
    assert paths.dataset_dir(2, 16, 500, 7) == str(
        root / "processed" / "offline_dataset" / "offline_dataset2_S16_T500_seed7"
    )
    assert paths.dql_run_dir(1, False, 3) == str(root / "results" / "dql" / "exp1_nobc_s3")
    assert paths.drl_run_dir("sac", 2, 0) == str(root / "results" / "drl" / "sac_env2_s0")
    assert paths.pipeline_dir("quick") == str(root / "results" / "pipeline" / "quick")
    monkeypatch.delenv(paths.ENV_VAR)
    assert paths.agents_dir() == os.path.join("data", "results", "MdpPolicy")


def test_synth_traffic_folder_gives_the_synthetic_default(root, capsys):
    assert main(["synth-traffic", "--flows", "thumb_fr", "--seed", "3"]) == 0
    folder = root / "processed" / "traffic"
    assert sorted(os.listdir(folder)) == ["thumb_fr_window200.npz"]
    assert "thumb_fr_window200.npz" in capsys.readouterr().out
    memory, stored = synthetic_trace("thumb_fr", seed=3), get_trace("thumb_fr", 200, folder)
    for split in ("train", "test"):
        for a, b in zip(memory.split(split), stored.split(split)):
            np.testing.assert_array_equal(a, b)
    # the losses' pairing (reference alignment) is the same from the file as in memory
    from_file = align_trace(stored, "reference", source_path(folder, "thumb_fr", 200))
    in_memory = align_trace(memory, "reference", None)
    np.testing.assert_array_equal(from_file.train_actual, in_memory.train_actual)
    assert main(["synth-traffic", "--flows", "thumb_xx"]) == 2
    assert "unknown synthetic preset 'thumb_xx'" in capsys.readouterr().err


@pytest.mark.slow
def test_build_agent_and_gen_dataset_write_under_data(root):
    assert main(["build-agent", "--subagent-config", "0"]) == 0
    agent = root / "results" / "MdpPolicy" / "mdp_subagent0.json"
    assert json.loads(agent.read_text())["subagent_config"] == 0
    argv = ["gen-dataset", "--dataset-config", "0", "--slices", "2", "--windows", "10",
            "--episode-len", "5", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    seed = get_dataset_config(0).seed
    folder = root / "processed" / "offline_dataset" / f"offline_dataset0_S2_T10_seed{seed}"
    ds = load_dataset(folder)
    assert ds.num_windows == 10 and ds.slices_per_set == 2


def test_resume_without_out_is_refused(root, capsys):
    assert main(["train-drl", "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err
