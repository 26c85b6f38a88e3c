"""`difsched convert-trace`: a good pickle converts and round-trips; anything else is
refused without running code from the file."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from difsched_jax.cli import main
from difsched_jax.traffic.convert import convert_pickle_trace, load_restricted_pickle
from difsched_jax.traffic.trace import SPLITS, Trace, TraceError, actual_key, predicted_key


def reference_dict(n_train=8, n_test=5):
    rng = np.random.default_rng(1)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        actual = rng.uniform(0, 150, n)
        out[f"trafficSource_{split}_actual"] = np.concatenate([[7.0], actual[:-1]])
        out[actual_key(split)] = actual
        out[predicted_key(split)] = rng.uniform(0, 150, n).astype(np.float32)
    return out


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_good_pickle_round_trips(tmp_path, protocol):
    arrays = reference_dict()
    src, dst = tmp_path / "in.pkl", tmp_path / "out.npz"
    src.write_bytes(pickle.dumps(arrays, protocol=protocol))
    convert_pickle_trace(src, dst)
    back = Trace.load(dst)
    for split in SPLITS:
        actual, predicted = back.split(split)
        np.testing.assert_array_equal(actual, arrays[actual_key(split)])
        np.testing.assert_array_equal(predicted, arrays[predicted_key(split)].astype(np.float64))
    with np.load(dst) as data:  # the reference's previous-window counts are kept as they are
        for split in SPLITS:
            key = f"trafficSource_{split}_actual"
            np.testing.assert_array_equal(data[key], arrays[key])


def test_cli_converts(tmp_path, capsys):
    src, dst = tmp_path / "in.pkl", tmp_path / "out.npz"
    src.write_bytes(pickle.dumps(reference_dict()))
    assert main(["convert-trace", str(src), str(dst)]) == 0
    assert "8 train + 5 test" in capsys.readouterr().out
    assert Trace.load(dst).train_actual.shape == (8,)


class Payload:
    """A pickle that would run a shell command (writing a marker file) when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Custom:
    pass


def test_os_system_is_refused_and_not_run(tmp_path, capsys):
    marker = tmp_path / "pwned"
    arrays = reference_dict()
    arrays["trafficTarget_train_actual"] = Payload(marker)
    src = tmp_path / "evil.pkl"
    src.write_bytes(pickle.dumps(arrays))
    with pytest.raises(TraceError, match="refused global") as err:
        load_restricted_pickle(src)
    assert str(src) in str(err.value) and "system" in str(err.value)
    assert main(["convert-trace", str(src), str(tmp_path / "out.npz")]) == 2
    assert "refused global" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize(
    "obj, problem",
    [
        ({"trafficTarget_train_actual": Custom()}, "refused global"),
        ([np.arange(3.0)], "expected a dict"),
        ({"trafficTarget_train_actual": [1.0, 2.0]}, "expected a NumPy array"),
        ({1: np.arange(3.0)}, "string keys"),
        ({"trafficTarget_train_actual": np.float64(3.0)}, "refused global"),  # a scalar
    ],
)
def test_other_content_is_refused(tmp_path, obj, problem):
    src = tmp_path / "x.pkl"
    src.write_bytes(pickle.dumps(obj))
    with pytest.raises(TraceError, match=problem):
        load_restricted_pickle(src)


def test_bad_source_array_is_refused(tmp_path):
    arrays = reference_dict()
    arrays["trafficSource_test_actual"] = arrays["trafficSource_test_actual"][:-1]
    src = tmp_path / "src.pkl"
    src.write_bytes(pickle.dumps(arrays))
    with pytest.raises(TraceError, match="trafficSource_test_actual"):
        convert_pickle_trace(src, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_invalid_trace_in_pickle_names_file_and_key(tmp_path):
    arrays = reference_dict()
    arrays[predicted_key("test")] = arrays[predicted_key("test")] + 500.0
    src = tmp_path / "big.pkl"
    src.write_bytes(pickle.dumps(arrays))
    with pytest.raises(TraceError, match="outside") as err:
        convert_pickle_trace(src, tmp_path / "out.npz")
    assert str(src) in str(err.value) and predicted_key("test") in str(err.value)


@pytest.mark.parametrize("content", [b"", b"garbage that is no pickle", b"\x80\x04\x95"])
def test_unreadable_pickle(tmp_path, content):
    src = tmp_path / "broken.pkl"
    src.write_bytes(content)
    with pytest.raises(TraceError) as err:
        load_restricted_pickle(src)
    assert str(src) in str(err.value)


@pytest.mark.parametrize(
    "content, kind",
    [(b"time,x,y\n0.0,1,2\n", "a text file"), (b"PK\x03\x04...", "a NumPy .npz archive"),
     (b"\x1f\x8b\x08\x00", "a gzip file")],
)  # fmt: skip
def test_not_a_pickle_is_named_as_what_it_is(tmp_path, capsys, content, kind):
    src = tmp_path / "motion.csv"
    src.write_bytes(content)
    assert main(["convert-trace", str(src), str(tmp_path / "out.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(src) in err and f"this is {kind}" in err, err
    assert "MARK" not in err and "underflow" not in err
    assert not (tmp_path / "out.npz").exists()
