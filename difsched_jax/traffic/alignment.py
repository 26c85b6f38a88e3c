"""Which actual counts a window's losses use, relative to its observation.

The reference's environment observes ``trafficTarget_{split}_predicted[t]`` but
sends (and loses) ``trafficSource_{split}_actual[t]``, which is the actual count
of window t-1. Its datasets show it: per-row losses correlate with the expected
loss under that pairing (r = 0.46-0.71) and not under same-window pairing
(r = 0.17), and same-window pairing gives mean losses 0.011-0.034 below the
reference's. "reference" reproduces that pairing (needed for the reference's
mean losses); "aligned" pairs the prediction with the same window's actual count.
"""

from __future__ import annotations

import os

import numpy as np

from difsched_jax.files import read_npz
from difsched_jax.traffic.trace import SPLITS, Trace, source_key, trace_filename, validate_counts

ALIGNMENTS = ("reference", "aligned")


def _previous_window(actual: np.ndarray) -> np.ndarray:
    return np.concatenate([actual[:1], actual[:-1]])


def source_path(traffic_dir: str | os.PathLike | None, flow: str, window: int) -> str | None:
    """The trace file of a flow in a traffic folder (None for synthetic traffic)."""
    if traffic_dir is None:
        return None
    return os.path.join(os.fspath(traffic_dir), trace_filename(flow, window))


def align_trace(
    trace: Trace, alignment: str = "reference", path: str | os.PathLike | None = None
) -> Trace:
    """The trace whose ``{split}_actual`` is what losses use under `alignment`.

    "reference": the ``trafficSource_{split}_actual`` series of the trace file at
    `path` when it has one, else the actual series shifted by one window."""
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if alignment == "aligned":
        return trace
    source = {}
    if path is not None and os.path.exists(path):
        data = read_npz(path, [source_key(split) for split in SPLITS])
        for split in SPLITS:
            if source_key(split) in data:
                source[split] = validate_counts(
                    data[source_key(split)], trace.window, f"{path} [{source_key(split)}]"
                )
    arrays = {}
    for split in SPLITS:
        actual, predicted = trace.split(split)
        shifted = source.get(split, _previous_window(actual))
        if shifted.shape != actual.shape:
            raise ValueError(f"{path}: {source_key(split)} and the actual series differ in length")
        arrays[f"{split}_actual"], arrays[f"{split}_predicted"] = shifted, predicted
    return Trace(**arrays, window=trace.window, name=f"{trace.name}:reference-aligned")
