"""Traffic models plug in: a model written in the tests (tests/onoff_traffic.py) runs
through the config, `make_env`, the JAX rollout and the NumPy reference after one
registry line, and an unknown name is refused with the list of known ones."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from difsched_jax import config
from difsched_jax.agents.heuristics import equal_share, heuristic_params
from difsched_jax.env import EnvSpec, make_env, rollout
from difsched_jax.env.numpy_reference import VectorizedSlices, reference_args
from difsched_jax.traffic import load_trace

SLICES, WINDOWS = 64, 40


@pytest.fixture
def onoff(monkeypatch):
    monkeypatch.setitem(config.TRAFFIC_MODELS, "onoff", "tests.onoff_traffic")  # the one line


def test_a_new_traffic_model_is_one_module_and_one_registry_line(onoff):
    cfg = config.get_env_config(0).replace(traffic="onoff")
    trace = load_trace(cfg.flow, cfg.window)
    spec, params = make_env(cfg, trace, "test", episode_len=WINDOWS)
    peak = int(np.max(np.floor(trace.test_actual)))
    assert spec.traffic == "onoff" and int(params.traffic_params) == peak
    rec = rollout(
        equal_share, heuristic_params(cfg.budget), params, spec, jax.random.key(0), SLICES, WINDOWS
    )
    counts = np.asarray(rec.actual)[1:]  # after the first window, every count is the model's
    assert set(np.unique(counts)) <= {0, peak}
    # on-share over 39·64·8 ≈ 20k independent draws: 0.5 ± 5σ (σ ≈ 0.0035)
    assert abs((counts == peak).mean() - 0.5) < 0.018
    # the scheduler sees the true count, and each window's next_obs is the next one's count
    np.testing.assert_array_equal(np.asarray(rec.obs), np.asarray(rec.actual))
    np.testing.assert_array_equal(np.asarray(rec.next_obs)[:-1], counts)
    ref = VectorizedSlices(reference_args(params, spec), SLICES, seed=0)
    ref_counts = []
    for _ in range(WINDOWS - 1):
        ref.step(np.full((SLICES, cfg.num_users), cfg.budget / cfg.num_users))
        ref_counts.append(ref.counts.copy())
    ref_counts = np.asarray(ref_counts)
    assert set(np.unique(ref_counts)) <= {0, peak}
    assert abs((ref_counts == peak).mean() - 0.5) < 0.018


def test_unknown_traffic_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"traffic must be one of \('trace', 'markov'\)"):
        EnvSpec(num_users=4, traffic="onoff")
    with pytest.raises(ValueError, match="traffic must be one of"):
        config.get_env_config(0).replace(traffic="poisson")
