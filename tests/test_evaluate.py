"""Evaluation library: comparison, table/payload, plots, errors, intervals (synthetic traffic)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.config import get_env_config
from difsched_jax.env import make_env
from difsched_jax.evaluate.compare import (
    compare_policies,
    comparison_payload,
    eval_trace,
    format_table,
    parse_policy_names,
)
from difsched_jax.evaluate.core import evaluate_policy
from difsched_jax.evaluate.plots import plot_comparison, plot_loss_histogram
from difsched_jax.evaluate.registry import BUILDERS, resolve_policy
from difsched_jax.evaluate.stats import mean_ci95, t_quantile_975

# Same sizes in test_cli_evaluate.py and test_evaluate_yardstick.py (and synthetic
# traces as long as the real ones): the compiled rollouts are reused across files.
SLICES, WINDOWS = 256, 10
CONFIG = get_env_config(0)


@pytest.fixture(scope="module")
def rows():
    trace = eval_trace(CONFIG, None, "reference", seed=0)
    return compare_policies(
        " equal, oracle,oracle-perfect",
        CONFIG,
        trace,
        num_slices=SLICES,
        num_windows=WINDOWS,
    )


@pytest.mark.slow
def test_compare_rows(rows):
    assert [r.name for r in rows] == ["equal", "oracle", "oracle-perfect"]
    assert [r.obs for r in rows] == ["predicted", "predicted", "perfect"]
    for r in rows:
        assert r.result.window_losses.shape == (WINDOWS, SLICES)
        assert r.result.slice_means.shape == (SLICES,)
        assert 0.0 <= r.result.mean_loss <= 1.0 and 0.0 < r.result.ci95 < 0.01
    by_name = {r.name: r.result.mean_loss for r in rows}
    # the exact optimum with perfect observation: well below an equal share (gap ~0.07)
    assert by_name["oracle-perfect"] < by_name["oracle"] < by_name["equal"]
    assert by_name["oracle-perfect"] < by_name["equal"] - 0.03
    # traffic-free: 0.297 in SPEC §1 (reference ceil), 0.327 in whole blocks (13 × 4, 12 × 4)
    assert abs(by_name["equal"] - 0.327) < 0.01


@pytest.mark.slow
def test_oracle_gap_measures_decision_shape(rows):
    gap = {r.name: r.result.oracle_gap for r in rows}
    assert gap["oracle"] == 0.0 and gap["oracle-perfect"] == 0.0  # each against its own obs
    # equal share: 12.5 blocks each where the oracle gives 0 to quiet users, ~17 to busy
    assert 4.0 < gap["equal"] < 12.5
    r = next(r for r in rows if r.name == "equal").result
    assert r.summary()["oracle_gap"] == gap["equal"]


@pytest.mark.slow
def test_table_and_payload(rows):
    table = format_table(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| policy | obs | mean loss") and len(lines) == 2 + len(rows)
    assert "| oracle-perfect | perfect |" in table
    payload = comparison_payload(rows, env_config=0, split="test")
    assert payload["env_config"] == 0 and len(payload["results"]) == len(rows)
    first = payload["results"][0]
    assert set(first) >= {"policy", "obs", "mean_loss", "ci95", "slices", "window_loss_std"}
    q = first["window_loss_quantiles"]
    assert 0 <= q["p5"] <= q["p25"] <= q["p50"] <= q["p75"] <= q["p95"] <= 1
    single = comparison_payload(rows[:1], env_config=0)
    assert single["policy"] == "equal" and single["mean_loss"] == rows[0].result.mean_loss


@pytest.mark.slow
def test_plots_write_png(rows, tmp_path):
    for fn, name in ((plot_comparison, "bars.png"), (plot_loss_histogram, "sub/hist.png")):
        path = fn(rows, tmp_path / name, title="t")
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_registry_names_and_errors():
    assert {"equal", "proportional", "random", "oracle", "oracle-perfect", "mdp"} <= set(BUILDERS)
    assert resolve_policy("oracle-perfect", CONFIG).obs == "perfect"
    assert resolve_policy("oracle", CONFIG).obs is None
    assert resolve_policy("oracle", CONFIG).params.gain.shape == (CONFIG.budget + 1,)
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        resolve_policy("greedy", CONFIG)
    with pytest.raises(ValueError, match="takes no ':' argument"):
        resolve_policy("equal:foo", CONFIG)
    with pytest.raises(ValueError, match="needs a folder"):
        resolve_policy("mdp", CONFIG)


def test_names_and_sizes_rejected_before_running():
    assert parse_policy_names(" equal,,oracle ") == ["equal", "oracle"]
    with pytest.raises(ValueError, match="no policy"):
        parse_policy_names(" , ")
    with pytest.raises(ValueError, match="more than once: equal"):
        parse_policy_names("equal,oracle,equal")
    trace = eval_trace(CONFIG, None, "aligned", seed=0)
    bad = [
        (dict(num_slices=1), "slices must be an integer >= 2"),
        (dict(num_windows=0), "windows must be an integer >= 1"),
        (dict(episode_len=0), "episode length"),
        (dict(split="valid"), "split must be one of"),
        (dict(obs="oracle"), "obs must be one of"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            compare_policies("equal", CONFIG, trace, **kwargs)
    with pytest.raises(ValueError, match="unknown policy"):
        compare_policies("equal,nope", CONFIG, trace, num_slices=2, num_windows=1)


def test_evaluate_policy_rejects_bad_sizes():
    trace = eval_trace(CONFIG, None, "aligned", seed=0)
    spec, params = make_env(CONFIG, trace, "test", "predicted", 5)
    policy = resolve_policy("equal", CONFIG)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="at least 2 slices"):
        evaluate_policy(policy.act, policy.params, params, spec, key, 1, 5)
    with pytest.raises(ValueError, match="at least 1 window"):
        evaluate_policy(policy.act, policy.params, params, spec, key, 2, 0)


def test_t_interval():
    assert t_quantile_975(1) == pytest.approx(12.706, abs=1e-3)
    reference = {3: 3.182446, 4: 2.776445, 6: 2.446912, 10: 2.228139, 30: 2.042272}
    for df, value in reference.items():
        assert t_quantile_975(df) == pytest.approx(value, abs=1.1e-4), df
    mean, half = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and half == pytest.approx(3.182 * np.std([1, 2, 3, 4], ddof=1) / 2, 1e-3)
    assert np.isnan(mean_ci95([0.5])[1])


def _env():
    trace = eval_trace(CONFIG, None, "aligned", seed=0)
    return make_env(CONFIG, trace, "test", "predicted", 5)


def wrong_shape_policy(params, key, obs):
    return jnp.ones(obs.shape[0] + 1)


def nan_policy(params, key, obs):
    return jnp.where(obs > 2, jnp.nan, 1.0)


def test_a_policy_of_the_wrong_shape_or_type_is_named():
    spec, params = _env()
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"policy wrong_shape_policy returned .* shape \(9,\) for "
                       r"an observation of shape \(8,\)"):  # fmt: skip
        evaluate_policy(wrong_shape_policy, None, params, spec, key, 2, 3)

    def bool_policy(p, k, obs):
        return obs > 0

    with pytest.raises(ValueError, match="bool_policy returned bool allocations"):
        evaluate_policy(bool_policy, None, params, spec, key, 2, 3)


def test_nan_allocations_are_an_error_not_a_loss():
    spec, params = _env()
    with pytest.raises(ValueError, match=r"nan_policy returned non-finite allocations .* in \d+ "
                       r"of 60 decisions"):  # fmt: skip
        evaluate_policy(nan_policy, None, params, spec, jax.random.key(0), 4, 15)


@pytest.mark.slow
def test_the_oracle_gap_can_be_skipped_and_warns_when_large(monkeypatch):
    from difsched_jax.evaluate import core

    spec, params = _env()
    policy = resolve_policy("equal", CONFIG)
    key = jax.random.key(0)
    skipped = evaluate_policy(policy.act, policy.params, params, spec, key, 2, 3,
                              with_oracle_gap=False)  # fmt: skip
    assert skipped.oracle_gap is None and skipped.summary()["oracle_gap"] is None
    assert core.oracle_gap_cost(8, 100, 6) == 6 * 8 * 101**2
    monkeypatch.setattr(core, "LARGE_ORACLE_GAP", 1.0)
    with pytest.warns(UserWarning, match=r"with_oracle_gap=False\) skips it"):
        full = evaluate_policy(policy.act, policy.params, params, spec, key, 2, 3)
    assert full.oracle_gap is not None and full.mean_loss == skipped.mean_loss


def test_more_windows_than_the_split_warns_that_cursors_wrap():
    spec, params = _env()
    policy = resolve_policy("equal", CONFIG)
    split_len = int(params.actual.shape[0])
    with pytest.warns(UserWarning, match=f"{split_len + 1} windows per slice read the evaluated "
                      rf"split \({split_len} windows\) more than once"):  # fmt: skip
        evaluate_policy(policy.act, policy.params, params, spec, jax.random.key(0), 2,
                        split_len + 1, with_oracle_gap=False)  # fmt: skip
