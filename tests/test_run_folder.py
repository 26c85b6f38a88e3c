"""The run folder both trainers share: typed configs that read back equal, the
resume check, and metrics rows / JSON written whole (no training here)."""

from __future__ import annotations

import json
import os

import pytest

from difsched_jax.agents.dql import DQLConfig
from difsched_jax.agents.drl.ppo import PPOConfig
from difsched_jax.agents.drl.sac import SACConfig
from difsched_jax.train import dql_config, drl, run_folder


def _write_config(folder, run):
    os.makedirs(folder, exist_ok=True)
    run_folder.write_json(os.path.join(folder, "config.json"), {**run.to_dict(), "env": {}})


def test_dql_agent_config_is_a_frozen_dataclass_end_to_end(tmp_path):
    run = dql_config.make_run_config(1, "ds", bc=False, agent={"lr": 2e-3})
    assert isinstance(run.agent, DQLConfig) and run.agent_config() is run.agent
    assert run.agent.lr == 2e-3 and run.agent.state_dim == 20  # experiment 1: 20 users
    _write_config(tmp_path, run)
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["agent"]["lr"] == 2e-3  # written out field by field
    back = dql_config.load_run_config(str(tmp_path))
    assert isinstance(back.agent, DQLConfig) and back == run
    with pytest.raises(ValueError, match="must be a DQLConfig"):
        dql_config.DQLRunConfig(0, "ds", agent=3)
    with pytest.raises(ValueError, match="make_run_config"):
        dql_config.DQLRunConfig(0, "ds").agent_config()


@pytest.mark.parametrize("algo, cls", [("ppo", PPOConfig), ("sac", SACConfig)])
def test_drl_agent_config_is_a_frozen_dataclass_end_to_end(tmp_path, algo, cls):
    run = drl.make_run_config(algo, 0, slices=8, steps=800)
    assert isinstance(run.agent, cls) and run.agent.num_slices == 8
    _write_config(tmp_path, run)
    back = drl.load_run_config(str(tmp_path))
    assert isinstance(back.agent, cls) and back == run
    assert drl.RunConfig(algo, 0).agent == cls()  # no agent given: the algo's defaults
    with pytest.raises(ValueError, match=f"must be a {cls.__name__}"):
        drl.RunConfig(algo, 0, agent=DQLConfig(state_dim=8, action_dim=8))


def test_open_run_checks_the_folder_before_writing(tmp_path):
    run = drl.make_run_config("ppo", 0, steps=800)
    out = str(tmp_path / "run")
    with pytest.raises(ValueError, match="no config.json"):
        drl.load_run_config(out)
    ckpt = run_folder.open_run(out, run, False, drl.load_run_config, {"num_users": 8})
    ckpt.save("latest", 1, {"x": 1.0})
    ckpt.close()
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["env"] == {"num_users": 8}
    with pytest.raises(ValueError, match="already holds a run"):
        run_folder.open_run(out, run, False, drl.load_run_config, {})
    other = drl.make_run_config("ppo", 0, steps=1600)
    with pytest.raises(ValueError, match="--resume needs the saved run's settings"):
        run_folder.open_run(out, other, True, drl.load_run_config, {})
    run_folder.open_run(out, run, True, drl.load_run_config, {}).close()  # same settings: fine


def test_rows_are_cut_at_the_checkpoint_and_written_whole(tmp_path):
    rows = [{"episode": e, "loss": 0.1 * e} for e in range(1, 6)]
    run_folder.write_rows(str(tmp_path), rows)
    assert run_folder.read_rows(str(tmp_path), "episode", 3) == rows[:3]
    assert run_folder.read_rows(str(tmp_path / "none"), "episode", 0) == []
    with pytest.raises(ValueError, match="not all there"):  # a checkpoint at 3, no rows
        run_folder.read_rows(str(tmp_path / "none"), "episode", 3)
    run_folder.write_summary(str(tmp_path), {"best": 0.2})
    assert sorted(os.listdir(tmp_path)) == ["metrics.jsonl", "summary.json"]  # no .tmp left
    os.makedirs(tmp_path / "gap")
    run_folder.write_rows(str(tmp_path / "gap"), [rows[0], rows[2]])
    assert run_folder.read_rows(str(tmp_path / "gap"), "episode", 3)[-1] == rows[2]
    with pytest.raises(ValueError, match="metrics.jsonl: the rows up to"):
        run_folder.read_rows(str(tmp_path / "gap"), "episode", 3, every=True)
