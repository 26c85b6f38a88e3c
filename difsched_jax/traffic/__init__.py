"""Traffic: traces (real, loaded on request) and the synthetic default."""

from __future__ import annotations

import os

from difsched_jax.traffic.alignment import ALIGNMENTS, align_trace, source_path
from difsched_jax.traffic.stats import trace_stats
from difsched_jax.traffic.synthetic import PRESETS, synthetic_trace
from difsched_jax.traffic.trace import Trace, TraceError, load_flow_trace, trace_filename

__all__ = [
    "ALIGNMENTS",
    "PRESETS",
    "Trace",
    "TraceError",
    "align_trace",
    "get_trace",
    "load_trace",
    "load_flow_trace",
    "source_path",
    "synthetic_trace",
    "trace_filename",
    "trace_stats",
]


def get_trace(
    flow: str, window: int = 200, traffic_dir: str | os.PathLike | None = None, seed: int = 0
) -> Trace:
    """The trace of a flow: ``{traffic_dir}/{flow}_window{L}.npz`` when a folder is
    given, else the built-in synthetic generator's preset of that name."""
    if traffic_dir is not None:
        return load_flow_trace(traffic_dir, flow, window)
    return synthetic_trace(flow, window=window, seed=seed)


def load_trace(
    flow: str,
    window: int = 200,
    traffic_dir: str | os.PathLike | None = None,
    seed: int = 0,
    alignment: str = "reference",
) -> Trace:
    """The trace everything runs on: `get_trace`'s, with losses paired to
    observations as `alignment` says ("reference": the trace file's
    ``trafficSource`` series, as SPEC §1; "aligned": the same window's actual
    counts; see `traffic.alignment`)."""
    trace = get_trace(flow, window, traffic_dir, seed=seed)
    return align_trace(trace, alignment, source_path(traffic_dir, flow, window))
