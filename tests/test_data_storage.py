"""Storage, schema, KS statistic, agent arrays, sharding and alignment helpers (no rollouts)."""

from __future__ import annotations

import numpy as np
import pytest

from difsched_jax.data import agent_arrays_from, ks_critical, ks_statistic
from difsched_jax.data.schema import bytes_per_transition, count_dtype, field_specs
from difsched_jax.data.sharding import host_share, padded_size
from difsched_jax.data.storage import DatasetError, open_npz, write_shard
from difsched_jax.env import action_to_allocation, allocation_to_action, normalize_obs
from difsched_jax.traffic import align_trace, get_trace, source_path


def test_shard_round_trip_is_memory_mapped(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "obs": rng.integers(0, 200, (5, 3, 4), dtype=np.uint8),
        "loss": rng.random((5, 3), dtype=np.float32),
        "flag": rng.random((5, 3)) < 0.5,
        "carry__0": rng.integers(0, 9, (3,), dtype=np.int32),
    }
    path = str(tmp_path / "s.npz")
    info = write_shard(path, arrays)
    assert info["bytes"] == (tmp_path / "s.npz").stat().st_size and len(info["sha256"]) == 64
    loaded = open_npz(path)
    for k, v in arrays.items():
        assert isinstance(loaded[k], np.memmap), k
        np.testing.assert_array_equal(loaded[k], v)
        assert loaded[k].dtype == v.dtype
    eager = open_npz(path, mmap=False)
    assert not isinstance(eager["obs"], np.memmap)


def test_open_npz_reads_compressed_and_refuses_garbage(tmp_path):
    path = str(tmp_path / "c.npz")
    np.savez_compressed(path, x=np.arange(10))
    np.testing.assert_array_equal(open_npz(path)["x"], np.arange(10))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(DatasetError, match="not a readable"):
        open_npz(str(bad))


def test_compact_dtypes():
    assert count_dtype(200) == np.uint8 and count_dtype(300) == np.int16
    with pytest.raises(ValueError):
        count_dtype(40_000)
    specs = field_specs(20, 200)
    assert specs["obs"] == {"dtype": "uint8", "shape": [20]}
    assert specs["action"]["dtype"] == "float32" and specs["loss"]["shape"] == []
    assert specs["granted"] == {"dtype": "float32", "shape": [20]}
    # 3 count fields x 20 B + 20 float32 requested and 20 granted + loss + 2 flags
    assert bytes_per_transition(20, 200) == 60 + 160 + 4 + 2


def _ks_brute(a, b):
    xs = np.union1d(a, b)
    return max(abs(np.mean(a <= x) - np.mean(b <= x)) for x in xs)


def test_ks_statistic_matches_brute_force_with_ties():
    rng = np.random.default_rng(1)
    for _ in range(5):
        a = rng.integers(0, 12, rng.integers(5, 60)).astype(float)
        b = rng.integers(2, 14, rng.integers(5, 60)).astype(float)
        assert ks_statistic(a, b) == pytest.approx(_ks_brute(a, b), abs=1e-12)
    assert ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert ks_statistic([0, 0], [5, 5]) == 1.0
    # c(0.05) = 1.358; c(0.01) = 1.628 (the classical table)
    assert ks_critical(100, 100, 0.05) == pytest.approx(1.358 * np.sqrt(2 / 100), rel=1e-3)
    assert ks_critical(100, 100, 0.01) == pytest.approx(1.628 * np.sqrt(2 / 100), rel=1e-3)


def test_agent_arrays_follow_the_env_conventions():
    rng = np.random.default_rng(2)
    data = {
        "obs": rng.integers(0, 201, (6, 4, 8), dtype=np.uint8),
        "next_obs": rng.integers(0, 201, (6, 4, 8), dtype=np.uint8),
        "action": rng.choice([0.0, 15.0, 30.0, 45.0, 60.0], (6, 4, 8)).astype(np.float32),
        "loss": rng.random((6, 4), dtype=np.float32),
        "done": rng.random((6, 4)) < 0.2,
    }
    out = agent_arrays_from(data, budget=100, window=200)
    assert out["state"].shape == (24, 8) and out["reward"].shape == (24,)
    np.testing.assert_allclose(out["state"], normalize_obs(data["obs"].reshape(24, 8), 200))
    np.testing.assert_allclose(
        out["next_state"], normalize_obs(data["next_obs"].reshape(24, 8), 200)
    )
    np.testing.assert_allclose(
        out["action"], allocation_to_action(data["action"].reshape(24, 8), 100), atol=1e-6
    )
    np.testing.assert_allclose(  # and back to the requested allocation
        action_to_allocation(out["action"], 100), data["action"].reshape(24, 8), atol=1e-4
    )
    np.testing.assert_allclose(out["reward"], 1.0 - data["loss"].reshape(24))
    assert out["done"].dtype == np.float32 and out["done"].sum() == data["done"].sum()
    assert out["state"].min() >= -1 and out["state"].max() <= 1


def test_host_shares_tile_the_slices():
    for s, p in ((10, 3), (4096, 4), (7, 7)):
        shares = [host_share(s, i, p) for i in range(p)]
        assert shares[0][0] == 0 and shares[-1][1] == s
        assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
    with pytest.raises(ValueError):
        host_share(2, 0, 3)
    assert padded_size(10, 8) == 16 and padded_size(16, 8) == 16 and padded_size(5, 1) == 5


def test_reference_alignment_shifts_actual_counts():
    trace = get_trace("thumb_fr", 200)
    shifted = align_trace(trace, "reference")
    np.testing.assert_array_equal(shifted.train_actual[1:], trace.train_actual[:-1])
    np.testing.assert_array_equal(shifted.train_predicted, trace.train_predicted)
    assert align_trace(trace, "aligned") is trace
    with pytest.raises(ValueError, match="alignment"):
        align_trace(trace, "sideways")


def test_reference_alignment_reads_the_source_series(traffic_dir):
    trace = get_trace("thumb_fr", 200, traffic_dir)
    shifted = align_trace(trace, "reference", source_path(traffic_dir, "thumb_fr", 200))
    with np.load(source_path(traffic_dir, "thumb_fr", 200)) as f:
        np.testing.assert_array_equal(shifted.train_actual, f["trafficSource_train_actual"])
        np.testing.assert_array_equal(shifted.test_actual, f["trafficSource_test_actual"])
