"""Hand-motion signal model behind the synthetic haptic traffic.

Movement comes in smooth bursts separated by rest. The thumb position is a
superposition of overlapping minimum-jerk sub-movements (the classic model of
smooth human reaching) grouped in bursts; the grip force alternates between a
resting grip and grasps (an alternating renewal process with gamma durations)
with min-jerk rise and release. Sensor and tremor noise is smooth Gaussian noise.
Everything is on a uniform base grid of `DT` seconds (the recordings' mean
sampling interval) and vectorised over samples.

Renderers return the *planned* signal (no noise); synthetic.py adds the noise,
and re-renders the plan with timing errors for the predictor's context.
"""

from __future__ import annotations

import numpy as np

DT = 0.01  # s per base sample


def alternating_schedule(
    rng: np.random.Generator,
    num_samples: int,
    rest_mean_s: float,
    active_mean_s: float,
    shape: float = 3.0,
    min_active_s: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Rest/active segments covering `num_samples` base samples.

    Returns edges (k+1,) in base samples (float, edges[0] = 0, increasing) and
    active (k,) bool: segment i spans [edges[i], edges[i+1]).
    """
    k = int(num_samples * DT / (rest_mean_s + active_mean_s) * 1.5) + 4  # pairs, with slack
    rest = rng.gamma(shape, rest_mean_s / shape, k)
    active = np.maximum(rng.gamma(shape, active_mean_s / shape, k), min_active_s)
    durations = np.stack([rest, active], axis=1).reshape(-1) / DT  # (2k,) in samples
    edges = np.concatenate([[0.0], np.cumsum(durations)])
    return edges, np.tile([False, True], k)


def jitter_edges(rng: np.random.Generator, edges: np.ndarray, sd_s: float) -> np.ndarray:
    """The same schedule with each boundary moved by N(0, sd_s) (order kept)."""
    moved = edges + rng.normal(0.0, sd_s / DT, edges.shape)
    moved[0] = edges[0]
    return np.maximum.accumulate(moved)


def segment_phase(edges: np.ndarray, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment index (n,) int and phase in [0, 1] (n,) of every base sample."""
    t = np.arange(num_samples, dtype=np.float64)
    seg = np.searchsorted(edges, t, side="right") - 1
    length = np.maximum(edges[seg + 1] - edges[seg], 1e-9)
    return seg, np.clip((t - edges[seg]) / length, 0.0, 1.0)


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile 0 -> 1 over tau in [0, 1]."""
    return tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2)


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sd: float, corr_s: float
) -> np.ndarray:
    """Gaussian noise along axis 0 smoothed by a Gaussian kernel of `corr_s` seconds.

    Rescaled to standard deviation `sd`; corr_s <= 0 gives white noise. shape: (n, ...).
    """
    white = rng.standard_normal(shape)
    width = corr_s / DT
    if width <= 0:
        return sd * white
    half = int(np.ceil(3 * width))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / width) ** 2)
    kernel /= np.sqrt((kernel**2).sum())  # keeps unit variance
    flat = white.reshape(shape[0], -1)
    n = shape[0]  # "full" then the centre: also right when the kernel outgrows the signal
    out = np.stack(
        [np.convolve(flat[:, j], kernel)[half : half + n] for j in range(flat.shape[1])], axis=1
    )
    return sd * out.reshape(shape)


def burst_onsets(
    rng: np.random.Generator,
    durations_s: np.ndarray,
    total_s: float,
    rest_mean_s: float,
    moves_per_burst: float,
    onset_gap_s: tuple[float, float],
) -> np.ndarray:
    """Onset times (k,) in seconds, k <= m, of sub-movements with durations (m,), in bursts.

    Burst sizes are geometric with mean `moves_per_burst`; within a burst, onsets are
    `onset_gap_s` (uniform range) apart, so sub-movements overlap; after a burst's last
    movement ends comes a gamma-distributed rest (mean `rest_mean_s`). Onsets past
    `total_s` are dropped; m should exceed total_s / onset_gap_s[0] to cover it.
    """
    m = durations_s.shape[0]
    sizes = rng.geometric(1.0 / moves_per_burst, m)
    first = np.zeros(m, dtype=bool)
    starts = np.cumsum(sizes) - sizes
    first[starts[starts < m]] = True
    gaps = rng.uniform(onset_gap_s[0], onset_gap_s[1], m)
    rests = rng.gamma(3.0, rest_mean_s / 3.0, m)
    prev = np.concatenate([[0.0], durations_s[:-1]])  # the previous burst's last movement
    gaps = np.where(first, prev + rests, gaps)
    onsets = np.cumsum(gaps)
    return onsets[onsets < total_s]


def superpose_reaches(
    onsets_s: np.ndarray,
    durations_s: np.ndarray,
    targets: np.ndarray,
    start: np.ndarray,
    num_samples: int,
) -> np.ndarray:
    """Planned position (n, 3) as a superposition of min-jerk sub-movements.

    Sub-movement i moves the planned end point from targets[i-1] (start for i = 0)
    to targets[i] (m, 3) between onsets_s[i] and onsets_s[i] + durations_s[i]; when
    movements overlap their velocities add (Flash & Henis), and the hand always
    ends at the last target. Computed as a step at each onset (cumulative sum) plus
    the min-jerk shortfall on each movement's support, so the cost is O(n + support).
    """
    disp = np.diff(np.vstack([start, targets]), axis=0)  # (m, 3)
    t0, length = onsets_s / DT, durations_s / DT  # in samples
    first = np.clip(np.ceil(t0), 0, num_samples).astype(np.int64)  # first sample at/after onset
    steps = np.zeros((num_samples + 1, 3))
    np.add.at(steps, first, disp)
    pos = start + np.cumsum(steps, axis=0)[:num_samples]
    span = np.ceil(length).astype(np.int64)  # samples in each support
    owner = np.repeat(np.arange(len(t0)), span)
    idx = first[owner] + np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    keep = idx < num_samples
    idx, owner = idx[keep], owner[keep]
    tau = np.clip((idx - t0[owner]) / length[owner], 0.0, 1.0)
    shortfall = disp[owner] * (min_jerk(tau) - 1.0)[:, None]  # (support, 3)
    for axis in range(3):
        pos[:, axis] += np.bincount(idx, shortfall[:, axis], minlength=num_samples)
    return pos


def grasp_force(
    seg: np.ndarray, tau: np.ndarray, peaks: np.ndarray, rise: float = 0.3
) -> np.ndarray:
    """Planned grip force (n,): during grasp i (segment 2i+1) a min-jerk rise over the first
    `rise` of the segment to peaks[i], a hold, and a min-jerk release over the last `rise`."""
    i = seg // 2
    gripping = (seg % 2) == 1
    up = min_jerk(np.clip(tau / rise, 0.0, 1.0))
    down = min_jerk(np.clip((1.0 - tau) / rise, 0.0, 1.0))
    return np.where(gripping, peaks[i] * np.minimum(up, down), 0.0)
