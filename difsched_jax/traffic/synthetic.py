"""Synthetic haptic traffic, the default everywhere (no file needed).

A model of the physical process behind the reference traces (SPEC §1):

    hand motion (motion.py) on a 10 ms grid -> x10 linear upsampling -> perceptual
    deadband (δ = 0.001 for position, 0.012 for force) -> packets per window of L
    samples (deadband.py)

Presets are named after the flows: ``thumb_fr`` (forward: 3-D thumb position)
and ``thumb_bk`` (backward: grip force). The stream is filtered as recordings
of `RECORD_WINDOWS` windows, each from its own start, like the reference's
concatenated sessions.

The predicted counts mimic a context-assisted predictor (predictor.py): it knows
the task plan (when each movement or grasp happens, where to, how hard) up to a
timing error, and the sensor model but not its realised noise. Its context count
is the traffic of the plan re-rendered with those timing errors and a fresh noise
draw; a linear map fitted on the train split turns it into the prediction.

The parameters below are physical choices (speeds, durations, noise levels),
picked so the statistics land near the real traces; see `stats.trace_stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from difsched_jax.traffic import motion
from difsched_jax.traffic.deadband import UPSAMPLE, deadband_counts
from difsched_jax.traffic.predictor import context_prediction
from difsched_jax.traffic.trace import Trace

RECORD_WINDOWS = 50  # windows per recording (10 s at L = 200)
MIN_JERK_PEAK = 1.875  # peak / mean speed of a min-jerk movement


@dataclass(frozen=True)
class PositionModel:
    """Forward flow: thumb position (m) from bursts of overlapping reaches."""

    delta: float = 0.001
    centre: tuple[float, float, float] = (0.05, 1.0, -0.19)  # workspace centre (m)
    spread: tuple[float, float, float] = (0.2, 0.1, 0.08)  # sd of reach targets (m)
    peak_speed: tuple[float, float] = (0.5, 1.0)  # m/s, uniform per reach
    min_duration_s: float = 1.0
    moves_per_burst: float = 6.0
    onset_gap_s: tuple[float, float] = (0.3, 0.7)  # between overlapping reaches
    rest_mean_s: float = 0.8
    jitter_sd: float = 0.0012  # tracking noise per axis (m)
    jitter_corr_s: float = 0.03
    drift_sd: float = 0.01  # slow postural drift per axis (m)
    drift_corr_s: float = 0.15
    timing_error_s: float = 0.11  # sd of the predictor's belief of each onset


@dataclass(frozen=True)
class ForceModel:
    """Backward flow: grip force (normalised, sensor saturates at 1) from grasps."""

    delta: float = 0.012
    rest_mean_s: float = 1.0
    grasp_mean_s: float = 0.6
    peak_force: tuple[float, float] = (0.2, 1.3)  # above 1 the sensor saturates
    rise_fraction: float = 0.5  # of a grasp spent rising (and releasing)
    rest_level: float = 0.05  # median resting grip
    level_sd: float = 1.2  # log-sd of the resting grip, varying over level_corr_s
    level_corr_s: float = 0.5
    noise_sd: float = 0.015  # sensor noise in sqrt-force units (variance grows with force)
    noise_corr_s: float = 0.02
    timing_error_s: float = 0.1  # sd of the predictor's belief of each grasp boundary


PRESETS: dict[str, PositionModel | ForceModel] = {
    "thumb_fr": PositionModel(),
    "thumb_bk": ForceModel(),
}


def _position_signals(model: PositionModel, rngs, num_samples: int):
    """Measured and context position signals, (n, 3) each."""
    rng_plan, rng_noise, rng_ctx = rngs
    total_s = num_samples * motion.DT
    m = int(total_s / model.onset_gap_s[0]) + 2  # enough reaches to fill the time
    centre = np.asarray(model.centre)
    targets = centre + rng_plan.standard_normal((m, 3)) * np.asarray(model.spread)
    dist = np.linalg.norm(np.diff(np.vstack([centre, targets]), axis=0), axis=1)
    speed = rng_plan.uniform(*model.peak_speed, m)
    durations = np.maximum(model.min_duration_s, MIN_JERK_PEAK * dist / speed)
    onsets = motion.burst_onsets(
        rng_plan, durations, total_s, model.rest_mean_s, model.moves_per_burst, model.onset_gap_s
    )
    k = onsets.shape[0]
    durations, targets = durations[:k], targets[:k]

    def measure(onsets_s, rng):
        plan = motion.superpose_reaches(onsets_s, durations, targets, centre, num_samples)
        shape = (num_samples, 3)
        jitter = motion.smooth_noise(rng, shape, model.jitter_sd, model.jitter_corr_s)
        return plan + jitter + motion.smooth_noise(rng, shape, model.drift_sd, model.drift_corr_s)

    believed = np.maximum(onsets + rng_ctx.normal(0.0, model.timing_error_s, k), 0.0)
    return measure(onsets, rng_noise), measure(believed, rng_ctx)


def _force_signals(model: ForceModel, rngs, num_samples: int):
    """Measured and context force signals, (n, 1) each."""
    rng_plan, rng_noise, rng_ctx = rngs
    edges, _ = motion.alternating_schedule(
        rng_plan, num_samples, model.rest_mean_s, model.grasp_mean_s
    )
    peaks = rng_plan.uniform(*model.peak_force, edges.shape[0] // 2 + 1)
    level = model.rest_level * np.exp(
        motion.smooth_noise(rng_plan, (num_samples,), model.level_sd, model.level_corr_s)
    )

    def measure(segment_edges, rng):
        seg, tau = motion.segment_phase(segment_edges, num_samples)
        plan = level + motion.grasp_force(seg, tau, peaks, model.rise_fraction)
        noise = motion.smooth_noise(rng, (num_samples,), model.noise_sd, model.noise_corr_s)
        return np.clip((np.sqrt(plan) + noise) ** 2, 0.0, 1.0)[:, None]

    believed = motion.jitter_edges(rng_ctx, edges, model.timing_error_s)
    return measure(edges, rng_noise), measure(believed, rng_ctx)


def synthetic_counts(
    flow: str = "thumb_fr", num_windows: int = 5200, window: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(actual, context) per-window counts, (num_windows,) each, of a preset."""
    if flow not in PRESETS:
        raise ValueError(f"unknown synthetic preset {flow!r}; known: {sorted(PRESETS)}")
    if num_windows < 1 or window < 1:
        raise ValueError(f"num_windows and window must be positive, got {num_windows}, {window}")
    model = PRESETS[flow]
    # independent streams: plan, sensor noise, predictor context; distinct per preset
    flow_id = sorted(PRESETS).index(flow)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, flow_id]).spawn(3)]
    num_samples = -(-num_windows * window // UPSAMPLE) + 1  # base samples covering the windows
    make = _position_signals if isinstance(model, PositionModel) else _force_signals
    measured, context = make(model, rngs, num_samples)
    actual = deadband_counts(measured, model.delta, window, RECORD_WINDOWS)[:num_windows]
    ctx = deadband_counts(context, model.delta, window, RECORD_WINDOWS)[:num_windows]
    return actual, ctx


def synthetic_trace(
    flow: str = "thumb_fr",
    window: int = 200,
    num_train: int = 3120,
    num_test: int = 2080,
    seed: int = 0,
) -> Trace:
    """A synthetic trace of a preset: train split first, then test (same stream)."""
    if num_train < 2 or num_test < 2:
        raise ValueError(f"each split needs at least 2 windows, got {num_train}, {num_test}")
    actual, context = synthetic_counts(flow, num_train + num_test, window, seed)
    predicted = context_prediction(actual, context, num_train, window)
    return Trace(
        actual[:num_train],
        predicted[:num_train],
        actual[num_train:],
        predicted[num_train:],
        window,
        f"synthetic:{flow}:seed{seed}",
    )
