"""Trace .npz format: round trip, and every load error names the file, key and problem."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from difsched_jax.traffic.trace import SPLITS, Trace, TraceError, actual_key, predicted_key

TRAIN_A, TRAIN_P = actual_key("train"), predicted_key("train")


def good_arrays(n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[actual_key(split)] = rng.integers(0, 200, n).astype(np.float64)
        arrays[predicted_key(split)] = rng.uniform(0, 200, n)
    return arrays


def write(tmp_path, arrays, name="t.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_save_load_round_trip(tmp_path):
    arrays = good_arrays()
    trace = Trace(
        arrays[TRAIN_A], arrays[TRAIN_P], arrays[actual_key("test")], arrays[predicted_key("test")]
    )
    path = tmp_path / "rt.npz"
    trace.save(path)
    back = Trace.load(path)
    for split in SPLITS:
        for got, want in zip(back.split(split), trace.split(split)):
            np.testing.assert_array_equal(got, want)
    with np.load(path) as data:  # the reference's source key: actual one window earlier
        np.testing.assert_array_equal(data["trafficSource_train_actual"][1:], arrays[TRAIN_A][:-1])


@pytest.mark.parametrize(
    "key, value, problem",
    [
        (TRAIN_A, np.ones((3, 2)), "1-D"),
        (TRAIN_A, np.array([1.0, np.nan, 2.0, 3.0, 4.0, 5.0]), "non-finite"),
        (TRAIN_P, np.array([1.0, np.inf, 2.0, 3.0, 4.0, 5.0]), "non-finite"),
        (TRAIN_A, np.array([1.0, -1.0, 2.0, 3.0, 4.0, 5.0]), "outside [0, window=200]"),
        (TRAIN_P, np.array([1.0, 201.0, 2.0, 3.0, 4.0, 5.0]), "outside [0, window=200]"),
        (TRAIN_A, np.array([5.0]), "at least 2 entries"),
        (TRAIN_A, np.array(["a", "b", "c", "d", "e", "f"]), "real numbers"),
    ],
)
def test_bad_array_is_named(tmp_path, key, value, problem):
    arrays = good_arrays()
    arrays[key] = value
    if key == TRAIN_A and value.ndim == 1 and value.shape[0] < 2:
        arrays[TRAIN_P] = value  # keep lengths equal so the length check is the one hit
    path = write(tmp_path, arrays)
    with pytest.raises(TraceError) as err:
        Trace.load(path)
    msg = str(err.value)
    assert str(path) in msg and key in msg and problem in msg, msg


def test_mismatched_lengths(tmp_path):
    arrays = good_arrays()
    arrays[predicted_key("test")] = arrays[predicted_key("test")][:-1]
    path = write(tmp_path, arrays)
    with pytest.raises(TraceError, match="differ in length") as err:
        Trace.load(path)
    msg = str(err.value)
    assert str(path) in msg and actual_key("test") in msg and predicted_key("test") in msg


def test_missing_key(tmp_path):
    arrays = good_arrays()
    del arrays[predicted_key("test")]
    path = write(tmp_path, arrays)
    with pytest.raises(TraceError, match="missing key") as err:
        Trace.load(path)
    assert str(path) in str(err.value) and predicted_key("test") in str(err.value)


def test_count_above_custom_window(tmp_path):
    path = write(tmp_path, good_arrays())
    with pytest.raises(TraceError, match=r"outside \[0, window=50\]") as err:
        Trace.load(path, window=50)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"not a zip archive at all", "this is a text file"),
        (b"time,count\n0.0,3\n", "this is a text file"),  # a CSV is not reported as a pickle
        (b"", "this is an empty file"),
        (pickle.dumps({"a": 1}), "this is a Python pickle: convert .*convert-trace"),
        (b"PK\x03\x04 then no archive", "not a readable .npz"),
        (None, "this is a single NumPy array"),  # a bare .npy array
    ],
)
def test_unreadable_file(tmp_path, content, problem):
    path = tmp_path / "bad.npz"
    if content is None:
        with open(path, "wb") as f:
            np.save(f, np.arange(5.0))
    else:
        path.write_bytes(content)
    with pytest.raises(TraceError, match=problem) as err:
        Trace.load(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="no such trace file"):
        Trace.load(tmp_path / "nope.npz")


def test_object_array_is_refused_without_pickle(tmp_path):
    arrays = good_arrays()
    arrays[TRAIN_A] = np.array([1.0, 2.0, None, 3.0, 4.0, 5.0], dtype=object)
    path = write(tmp_path, arrays)  # np.savez pickles the object array
    with pytest.raises(TraceError) as err:
        Trace.load(path)
    assert str(path) in str(err.value) and TRAIN_A in str(err.value)


def test_real_traces_load(traffic_dir):
    for flow in ("thumb_fr", "thumb_bk"):
        trace = Trace.load(traffic_dir / f"{flow}_window200.npz")
        assert trace.train_actual.shape == (3120,) and trace.test_actual.shape == (2080,)


@pytest.mark.parametrize("alignment", ["reference", "aligned"])
def test_load_trace_and_make_env_for_are_the_one_entry(traffic_dir, alignment):
    """`load_trace` is get_trace + align_trace (with the file's trafficSource series), and
    `make_env_for` is make_env on it: the idiom every caller used to spell out."""
    import jax

    from difsched_jax.config import get_env_config
    from difsched_jax.env import make_env, make_env_for
    from difsched_jax.traffic import align_trace, get_trace, load_trace, source_path

    for folder, seed in ((traffic_dir, 0), (None, 4)):
        want = align_trace(
            get_trace("thumb_fr", 200, folder, seed=seed),
            alignment,
            source_path(folder, "thumb_fr", 200),
        )
        got = load_trace("thumb_fr", 200, folder, seed, alignment)
        for split in SPLITS:
            for a, b in zip(got.split(split), want.split(split)):
                np.testing.assert_array_equal(a, b)
        config = get_env_config(0)
        spec, params = make_env_for(
            config, folder, "train", "perfect", seed=seed, alignment=alignment, episode_len=50
        )
        spec_want, params_want = make_env(config, want, "train", "perfect", 50)
        assert spec == spec_want
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params_want)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the reference pairing really differs from same-window pairing on the real file
    ref = load_trace("thumb_fr", 200, traffic_dir, alignment="reference").test_actual
    same = load_trace("thumb_fr", 200, traffic_dir, alignment="aligned").test_actual
    assert not np.array_equal(ref, same)


def test_fractional_counts_are_floored_with_one_warning(tmp_path):
    import warnings

    arrays = good_arrays()
    arrays[actual_key("train")][2] = 10.5
    path = write(tmp_path, arrays, name="fractional.npz")
    with pytest.warns(UserWarning, match=r"fractional.npz: 1 of 10 actual counts are fractional "
                      r"\(e.g. 10.5\); the environment floors them"):  # fmt: skip
        Trace.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trace.load(path)  # once per trace
        Trace.load(write(tmp_path, good_arrays(), name="whole.npz"))  # whole counts: silent
