"""Per-window packet-count traces: the `Trace` type and its `.npz` format.

A trace holds, for a train and a test split, the *actual* per-window packet
counts and the *predicted* counts of a traffic predictor aligned with them.
Files use the reference's key names:

    trafficTarget_{split}_actual     (T,) actual counts (what losses are computed on)
    trafficTarget_{split}_predicted  (T,) predicted counts (what the scheduler observes)
    trafficSource_{split}_actual     (T,) the actual counts one window earlier (optional
                                     on load; written on save, first entry repeated)

Counts are floats in the reference files; the environment floors them to int.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from difsched_jax.files import KIND_WORDS, file_kind

SPLITS = ("train", "test")


class TraceError(ValueError):
    """A trace file or array that cannot be used, with the file, key and problem."""


def actual_key(split: str) -> str:
    return f"trafficTarget_{split}_actual"


def predicted_key(split: str) -> str:
    return f"trafficTarget_{split}_predicted"


def source_key(split: str) -> str:
    return f"trafficSource_{split}_actual"


def trace_filename(flow: str, window: int) -> str:
    """The reference's file name for a flow: ``{flow}_window{L}.npz``."""
    return f"{flow}_window{window}.npz"


def validate_counts(values, window: int, where: str) -> np.ndarray:
    """Check a count array (1-D, finite, 0 <= count <= window, >= 2 entries)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise TraceError(f"{where}: expected a 1-D array, got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise TraceError(f"{where}: needs at least 2 entries, got {arr.shape[0]}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TraceError(f"{where}: expected real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise TraceError(f"{where}: non-finite value {arr[bad]} at index {bad}")
    if arr.min() < 0 or arr.max() > window:
        bad = int(np.flatnonzero((arr < 0) | (arr > window))[0])
        raise TraceError(
            f"{where}: count {arr[bad]} at index {bad} is outside [0, window={window}]"
        )
    return arr


_noted: set[str] = set()


def _note_fractional(trace) -> None:
    """Warn once per trace name: fractional actual counts are floored to whole packets
    (the reference's own traces hold such counts, and the reference floors them too)."""
    actual = np.concatenate([trace.train_actual, trace.test_actual])
    fractional = actual != np.floor(actual)
    source = trace.name.split(":")[0]  # derived traces (an alignment) share the note
    if fractional.any() and source not in _noted:
        _noted.add(source)
        first = actual[fractional][0]
        warnings.warn(
            f"{trace.name}: {int(fractional.sum())} of {actual.size} actual counts are "
            f"fractional (e.g. {first:g}); the environment floors them to whole packets",
            stacklevel=3,
        )


@dataclass(frozen=True)
class Trace:
    """Train/test x actual/predicted count arrays of one flow, and the window length.

    All arrays are float64 (counts; the environment floors them).
    """

    train_actual: np.ndarray  # (T_train,)
    train_predicted: np.ndarray  # (T_train,)
    test_actual: np.ndarray  # (T_test,)
    test_predicted: np.ndarray  # (T_test,)
    window: int = 200
    name: str = "trace"

    def __post_init__(self):
        if not isinstance(self.window, int) or self.window <= 0:
            raise TraceError(f"{self.name}: window must be a positive integer, got {self.window!r}")
        for split in SPLITS:
            a = validate_counts(
                getattr(self, f"{split}_actual"), self.window, f"{self.name}: {split}_actual"
            )
            p = validate_counts(
                getattr(self, f"{split}_predicted"), self.window, f"{self.name}: {split}_predicted"
            )
            if a.shape != p.shape:
                raise TraceError(
                    f"{self.name}: {split} actual and predicted differ in length "
                    f"({a.shape[0]} vs {p.shape[0]})"
                )
            object.__setattr__(self, f"{split}_actual", a)
            object.__setattr__(self, f"{split}_predicted", p)
        _note_fractional(self)

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(actual, predicted) of a split."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return getattr(self, f"{split}_actual"), getattr(self, f"{split}_predicted")

    def save(self, path: str | os.PathLike, sources=None) -> None:
        """Write the `.npz`. `sources` ({split: (T,) array}, optional) are the true counts
        one window earlier, as in the reference's files; by default the first actual count
        stands in for the unknown window before the trace."""
        arrays = {}
        for split in SPLITS:
            actual, predicted = self.split(split)
            if sources is not None and split in sources:
                where = f"{self.name}: {source_key(split)}"
                src = validate_counts(sources[split], self.window, where)
                if src.shape != actual.shape:
                    raise TraceError(f"{where}: length {src.shape[0]}, expected {actual.shape[0]}")
                arrays[source_key(split)] = src
            else:
                arrays[source_key(split)] = np.concatenate([actual[:1], actual[:-1]])
            arrays[actual_key(split)] = actual
            arrays[predicted_key(split)] = predicted
        path = os.fspath(path)
        tmp = path + ".tmp.npz"  # write then rename: a crash never leaves half a file
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def from_arrays(cls, arrays, window: int = 200, source: str = "trace") -> Trace:
        """A trace from a mapping with the reference's key names, validated; errors name
        `source` (a file), the key and the problem. Extra keys are ignored."""
        counts = {}
        for split in SPLITS:
            for key in (actual_key(split), predicted_key(split)):
                if key not in arrays:
                    raise TraceError(f"{source}: missing key {key!r} (has {sorted(arrays)})")
                try:
                    counts[key] = validate_counts(arrays[key], window, f"{source} [{key}]")
                except TraceError:
                    raise
                except Exception as e:  # noqa: BLE001 - an unreadable member, reported alike
                    raise TraceError(f"{source} [{key}]: cannot read the array ({e})") from e
            a, p = counts[actual_key(split)], counts[predicted_key(split)]
            if a.shape != p.shape:
                raise TraceError(
                    f"{source}: {actual_key(split)} and {predicted_key(split)} differ in length "
                    f"({a.shape[0]} vs {p.shape[0]})"
                )
        return cls(
            train_actual=counts[actual_key("train")],
            train_predicted=counts[predicted_key("train")],
            test_actual=counts[actual_key("test")],
            test_predicted=counts[predicted_key("test")],
            window=window,
            name=os.path.basename(source),
        )

    @classmethod
    def load(cls, path: str | os.PathLike, window: int = 200) -> Trace:
        """Read a `.npz` trace (no pickles), validated; errors name the file, key and problem."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise TraceError(f"{path}: no such trace file")
        kind = file_kind(path) if os.path.isfile(path) else "npz"
        if kind != "npz":
            hint = (
                ": convert the reference's pickle with `difsched convert-trace`"
                if kind == "pickle"
                else ""
            )
            raise TraceError(f"{path}: a trace is a .npz archive; this is {KIND_WORDS[kind]}{hint}")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - report any unreadable file the same way
            raise TraceError(f"{path}: not a readable .npz file ({e})") from e
        if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
            raise TraceError(f"{path}: not a .npz archive (a single array, no keys)")
        with data:
            return cls.from_arrays(data, window, path)  # NpzFile reads each key on access


def load_flow_trace(traffic_dir: str | os.PathLike, flow: str, window: int = 200) -> Trace:
    """Read ``{traffic_dir}/{flow}_window{L}.npz`` (the reference's layout)."""
    return Trace.load(os.path.join(os.fspath(traffic_dir), trace_filename(flow, window)), window)
