"""`difsched train` (Diffusion-QL) with a tiny budget: resume exactness, CLI, dql:RUN.

Synthetic traffic and a tiny random-policy dataset, so nothing here needs ../shared.
All runs share one set of shapes, so the jitted update and rollouts compile once.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents import heuristics
from difsched_jax.cli import main
from difsched_jax.config import get_dataset_config
from difsched_jax.data import generate_dataset
from difsched_jax.env import make_env
from difsched_jax.env.build import split_params
from difsched_jax.pipeline.presets import TINY_AGENT, TINY_RUN
from difsched_jax.traffic import get_trace
from difsched_jax.train.dql import load_policy, make_run_config, train
from difsched_jax.train.dql_config import DQLRunConfig, load_run_config

# the tiny agent and budget (the "tiny" preset's); the same values go through the CLI as --set
AGENT = dict(TINY_AGENT)
RUN = {
    "episodes": 3,
    **TINY_RUN,  # episode_len 3: episodes end inside the rollouts (auto-reset, true next obs)
    "greedy_windows": 4,
    "online_phase": True,  # SPEC §5's online phase (off in our defaults)
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Dataset config 0's slice (8 users, B = 100), random actions, synthetic traffic."""
    folder = str(tmp_path_factory.mktemp("dql") / "ds")
    cfg = get_dataset_config(0)
    policy = (heuristics.random_policy, heuristics.heuristic_params(cfg.budget))
    trace = get_trace(cfg.flow, cfg.window)
    generate_dataset(folder, cfg, trace, [policy], num_slices=4, num_windows=30, progress=False)
    return folder


def _run(dataset, **kw) -> DQLRunConfig:
    return make_run_config(0, dataset, agent=AGENT, **{**RUN, **kw})


def _rows(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    for r in rows:
        r.pop("seconds")
    return rows


@pytest.fixture(scope="module")
def full_run(dataset, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("dql") / "full")
    summary = train(_run(dataset), out, progress=False)
    return out, summary


@pytest.mark.slow
def test_run_folder_and_metrics(full_run):
    out, summary = full_run
    for name in ("config.json", "metrics.jsonl", "curves.png", "summary.json"):
        assert os.path.exists(os.path.join(out, name)), name
    rows = _rows(out)
    assert [r["episode"] for r in rows] == [1, 2, 3]
    assert [r["offline_share"] for r in rows] == [1.0, 0.75, 0.5]
    # distilled runs are chosen by the critic's own decisions (the teacher's quality)
    assert ["val_loss_argmax" in r for r in rows] == [False, True, True]
    # every exploration and greedy transition is kept in the online buffer
    assert rows[-1]["online_size"] == 3 * (3 * 4 + 2 * 4)
    assert all(np.isfinite(r["critic_loss"]) and 0 <= r["explore_loss"] <= 1 for r in rows)
    assert summary["updates"] == 24 and summary["best_episode"] in (2, 3)
    assert summary["best_val_loss"] == min(
        r["val_loss_argmax"] for r in rows if r.get("val_loss_argmax")
    )
    # then the actor is distilled from the chosen critic's choices and decides alone
    assert len(summary["distill_curve"]) == 1 and 0 <= summary["distilled_val_loss"] <= 1
    assert summary["who_decides"]["val_loss_actor"] == summary["distilled_val_loss"]
    assert 0 <= summary["who_decides"]["argmax_wins"] <= 1
    # config.json alone rebuilds the agent
    run = load_run_config(out)
    assert run.agent_config().hidden == 32 and run.agent_config().lr_decay_steps == 24


@pytest.mark.slow
def test_offline_phase_only(dataset, tmp_path):
    run = _run(dataset, online_phase=False, episodes=2)
    summary = train(run, str(tmp_path / "off"), progress=False)
    rows = _rows(str(tmp_path / "off"))
    assert [r["offline_share"] for r in rows] == [1.0, 1.0]
    assert [r["online_size"] for r in rows] == [0, 0]
    assert all(np.isnan(r["explore_loss"]) and "greedy_loss" not in r for r in rows)
    assert summary["updates"] == 16 and np.isfinite(summary["best_val_loss"])


@pytest.mark.slow
def test_resume_gives_the_uninterrupted_metrics(dataset, full_run, tmp_path):
    out = str(tmp_path / "resumed")
    run = _run(dataset)
    train(run, out, progress=False, stop_after=1)  # "interrupted" after one episode
    assert len(_rows(out)) == 1
    with pytest.raises(ValueError, match="already holds a run"):
        train(run, out, progress=False)
    train(run, out, resume=True, progress=False)
    assert _rows(out) == _rows(full_run[0])
    for slot in ("best", "latest"):
        _, a, _ = load_policy(out, slot)
        _, b, _ = load_policy(full_run[0], slot)
        assert jax.tree.all(jax.tree.map(np.array_equal, a, b)), slot


@pytest.mark.slow
def test_cli_train_and_evaluate(dataset, full_run, tmp_path, capsys):
    out = str(tmp_path / "cli")
    argv = ["train", "--exp-config", "0", "--dataset", dataset, "--out", out, "--no-progress"]
    for k, v in {**AGENT, **RUN}.items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    assert main(argv) == 0
    assert _rows(out) == _rows(full_run[0])  # same seed, same run
    capsys.readouterr()
    policies = f"equal,dql:{out},dql:{out}@latest"
    argv = ["evaluate", "--policy", policies, "--slices", "2", "--windows", "3", "--json"]
    assert main(argv + [str(tmp_path / "eval.json")]) == 0
    table = capsys.readouterr().out
    assert f"| dql:{out} |" in table and f"| dql:{out}@latest |" in table
    with open(tmp_path / "eval.json") as f:
        losses = [r["mean_loss"] for r in json.load(f)["results"]]
    assert all(0.0 <= x <= 1.0 for x in losses)
    assert main(["evaluate", "--env-config", "1", "--policy", f"dql:{out}"]) == 2
    assert "trained for 8 users, B = 100" in capsys.readouterr().err
    assert main(["evaluate", "--policy", f"dql:{out}@nope"]) == 2
    assert "checkpoint must be one of" in capsys.readouterr().err
    # the run learnt under whole blocks: evaluating it under the reference's ceil is refused
    assert load_run_config(out).allocation == "integer"
    assert main(["evaluate", "--policy", f"dql:{out}", "--allocation", "reference"]) == 2
    err = capsys.readouterr().err
    assert "trained under the 'integer' allocation" in err and "--allocation integer" in err


@pytest.mark.slow
def test_a_dataset_trains_only_under_its_allocation(dataset, tmp_path, capsys):
    """A dataset made under `reference` is refused by an `integer` run, with the flag to
    pass; `difsched train` without --allocation takes the dataset's."""
    folder = str(tmp_path / "ref_ds")
    cfg = get_dataset_config(0).replace(allocation="reference")
    policy = (heuristics.equal_share, heuristics.heuristic_params(cfg.budget))
    trace = get_trace(cfg.flow, cfg.window)
    generate_dataset(folder, cfg, trace, [policy], num_slices=2, num_windows=5, progress=False)
    with pytest.raises(ValueError, match="made under the 'reference' allocation.*--allocation"):
        train(_run(folder), str(tmp_path / "run"), progress=False)
    assert not os.path.exists(tmp_path / "run")  # refused before the folder is written
    from difsched_jax.cli.train import dataset_allocation

    assert dataset_allocation(folder) == "reference" and dataset_allocation(dataset) == "integer"
    argv = ["train", "--exp-config", "0", "--dataset", folder, "--out", str(tmp_path / "r2")]
    argv += ["--allocation", "integer", "--no-progress"]
    assert main(argv) == 2
    assert "made under the 'reference' allocation" in capsys.readouterr().err


@pytest.mark.slow
def test_settings_are_checked(dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown agent settings"):
        make_run_config(0, dataset, agent={"gama": 0.0})
    with pytest.raises(ValueError, match="rank_critic"):
        make_run_config(0, dataset, rank_critic="best")
    run = make_run_config(1, dataset, agent=AGENT, **RUN)  # experiment 1: 20 users
    with pytest.raises(ValueError, match="needs 20 users"):
        train(run, str(tmp_path / "bad"), progress=False)
    no_bc = make_run_config(0, dataset, bc=False, agent={"gamma": 0.0}).agent_config()
    # our lr (3e-3, with or without BC) replaces SPEC's 5e-3 / 5e-4, which --spec-agent keeps
    assert (no_bc.w_bc, no_bc.lr, no_bc.lcb_coef, no_bc.gamma) == (0.0, 3e-3, 0.01, 0.0)
    spec_run = make_run_config(0, dataset, bc=False, spec_agent=True)
    spec = spec_run.agent_config()
    assert (spec.lr, spec.gamma, spec.network, spec.critic_argmax) == (5e-3, 0.99, "mlp", False)
    assert (spec_run.online_phase, spec_run.eval_candidates) == (True, 50)
    assert make_run_config(0, dataset, bc=True).agent_config().lr == 3e-3  # the critic's lr
    ours = make_run_config(0, dataset, bc=False)
    assert (ours.online_phase, ours.eval_candidates, ours.agent_config().critic_argmax) == (
        False, 1, False
    )  # fmt: skip
    # issue 23: the actor decides, distilled from the critic's choices
    assert (ours.distill_updates, ours.eval_eta, ours.agent_config().actor_space) == (
        16_000, 0.0, "fair_share"
    )  # fmt: skip
    with pytest.raises(ValueError, match="online_phase must be true or false"):
        make_run_config(0, dataset, online_phase="no")


def test_validation_is_the_tail_of_the_train_split():
    cfg = get_dataset_config(0)
    spec, params = make_env(cfg, get_trace(cfg.flow, cfg.window), "train")
    train_p, val_p = split_params(params, 0.2)
    n = params.actual.shape[0]
    assert val_p.actual.shape[0] == round(0.2 * n)
    np.testing.assert_array_equal(
        np.concatenate([train_p.observed, val_p.observed]), np.asarray(params.observed)
    )
    with pytest.raises(ValueError, match="both parts"):
        split_params(params, 0.0)


def test_budget_projection_spends_exactly_the_budget():
    from difsched_jax.agents.dql import DQLConfig
    from difsched_jax.agents.dql.agent import executed_action

    a = jax.random.uniform(jax.random.key(0), (64, 8), minval=-1.0, maxval=1.0)
    a = a.at[0].set(-1.0)  # nothing requested: equal share
    off = DQLConfig(state_dim=8, action_dim=8, budget=100.0)
    np.testing.assert_array_equal(executed_action(off, a), a)
    r = (executed_action(off.replace(budget_projection=True), a) + 1.0) * 50.0
    np.testing.assert_allclose(r.sum(-1), 100.0, rtol=1e-5)
    np.testing.assert_allclose(r[0], 12.5, rtol=1e-5)
    # proportions are kept
    r_in = (a[1:] + 1.0) * 50.0
    np.testing.assert_allclose(
        r[1:] / r[1:].sum(-1, keepdims=True), r_in / r_in.sum(-1, keepdims=True), rtol=1e-4
    )


def test_q_loss_action_gradient_passes_the_clip():
    from difsched_jax.agents.dql import DQLConfig
    from difsched_jax.agents.dql.agent import q_loss_action

    cfg = DQLConfig(state_dim=3, action_dim=3, budget=30.0)
    a = jnp.array([[3.0, -0.2, -4.0]])  # two coordinates outside the box
    w = jnp.array([1.0, 2.0, 3.0])
    score = lambda c, x: (q_loss_action(c, x) * w).sum()  # noqa: E731
    # the value is the executed (clipped) action either way
    np.testing.assert_allclose(q_loss_action(cfg, a), [[1.0, -0.2, -1.0]])
    # straight through: the gradient reaches every coordinate; a plain clip drops two
    np.testing.assert_allclose(jax.grad(score, argnums=1)(cfg, a), [[1.0, 2.0, 3.0]])
    plain = cfg.replace(q_clip_straight_through=False)
    np.testing.assert_allclose(jax.grad(score, argnums=1)(plain, a), [[0.0, 2.0, 0.0]])
    # unclipped (SPEC §5): the raw â0
    np.testing.assert_allclose(q_loss_action(cfg.replace(q_action_clip=False), a), a)


@pytest.mark.slow
def test_run_defaults_are_myopic_and_spec_agent_is_spec(dataset):
    ours = make_run_config(0, dataset).agent_config()
    assert (ours.gamma, ours.budget_projection, ours.q_action_clip) == (0.0, True, True)
    spec = make_run_config(0, dataset, spec_agent=True).agent_config()
    assert (spec.gamma, spec.budget_projection, spec.q_action_clip) == (0.99, False, False)
    # explicit agent settings win over either preset
    assert make_run_config(0, dataset, agent={"gamma": 0.5}).agent_config().gamma == 0.5


@pytest.mark.slow
def test_resume_refuses_flags_that_disagree_with_the_saved_run(full_run, capsys):
    """`train --resume` continues the run as saved: a flag or --set item that says
    otherwise is refused in one line naming it, the saved value and the given one."""
    out = full_run[0]
    cases = {
        ("--set", "lr=0.1"): "--set lr was 0.003",
        ("--no-bc",): "--no-bc was 'with BC'",
        ("--dataset", os.path.dirname(out)): "--dataset was",
        ("--allocation", "reference"): "allocation = integer",
        ("--spec-agent",): "drop --spec-agent",
    }
    for extra, message in cases.items():
        assert main(["train", "--resume", "--out", out, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (extra, err)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        assert len(f.readlines()) == 3  # nothing ran
