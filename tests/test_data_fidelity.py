"""Fidelity with the reference datasets (real traces, MDP sub-agents solved here).

Datasets 0, 2, 4, 6 as the reference makes them (train split, predicted
observation, 10,000 windows in episodes of 1,000), 8 slices each. Thresholds
(`FIDELITY_THRESHOLDS`): mean loss within 0.01 of the reference's; two-sample KS
distance of the pooled per-user marginals of observations and of actions at most
0.03. (Observations are autocorrelated, so the iid critical value, about 0.006
here, would reject even two runs of the reference itself; measured distances
are 0.002-0.007.) Negative controls show both checks can fail.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from difsched_jax.config import get_dataset_config
from difsched_jax.data import compare_to_reference, generate_dataset, ks_statistic, load_dataset
from difsched_jax.data.fidelity import FIDELITY_THRESHOLDS
from difsched_jax.data.policy import behaviour_policies
from difsched_jax.traffic import load_trace

SLICES, WINDOWS = 8, 10_000


@functools.cache
def _policies(idx: int, traffic_dir: str):
    return behaviour_policies(get_dataset_config(idx), traffic_dir)[0]


def _generate(tmp_path, traffic_dir, idx: int, alignment: str = "reference") -> dict:
    cfg = get_dataset_config(idx)
    trace = load_trace(cfg.flow, cfg.window, traffic_dir, alignment=alignment)
    folder = tmp_path / f"d{idx}-{alignment}"
    generate_dataset(
        folder, cfg, trace, _policies(idx, str(traffic_dir)), num_slices=SLICES,
        num_windows=WINDOWS, episode_len=1000, seed=cfg.seed, progress=False,
    )  # fmt: skip
    return load_dataset(folder, verify=False).flat(["obs", "action", "loss"])


@pytest.mark.slow
@pytest.mark.parametrize("idx", [0, 2, 4, 6])
def test_generated_dataset_matches_the_reference(tmp_path, traffic_dir, reference_dir, idx):
    flat = _generate(tmp_path, traffic_dir, idx)
    with np.load(reference_dir / f"seed_offline_dataset{idx}.npz", allow_pickle=False) as ref:
        report = compare_to_reference(flat, ref)
    assert report["passed"], report
    assert report["mean_loss_diff"] <= 0.01


@pytest.mark.slow
def test_the_checks_can_fail(tmp_path, traffic_dir, reference_dir):
    # same-window pairing of prediction and actual counts: losses too low for dataset 4
    flat = _generate(tmp_path, traffic_dir, 4, alignment="aligned")
    with np.load(reference_dir / "seed_offline_dataset4.npz", allow_pickle=False) as ref:
        report = compare_to_reference(flat, ref)
        assert report["mean_loss_diff"] > FIDELITY_THRESHOLDS["mean_loss"], report
        assert not report["passed"]
        # the other flow's observations and an equal share's actions are told apart
        with np.load(reference_dir / "seed_offline_dataset0.npz", allow_pickle=False) as other:
            assert ks_statistic(other["observations"], ref["observations"]) > 0.03
        equal = np.full_like(ref["actions"], 12.5)
        assert ks_statistic(equal, ref["actions"]) > 0.03
