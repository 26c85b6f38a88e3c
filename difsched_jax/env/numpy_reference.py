"""Plain NumPy reference of SPEC §1: the oracle of the parity tests and the
benchmarks' baselines. Deliberately independent of the JAX code paths: each
traffic model's NumPy step (`numpy_advance`) sits beside its JAX one in
`env/traffic_models`, written with NumPy alone.

`ReferenceSlice` steps one slice slot by slot in Python loops, as the reference
system does (a Bernoulli draw per packet, a Python loop for the random-order
budget rule, `searchsorted` on arange(B) for the grid). `VectorizedSlices` is
the same model over S slices with NumPy array ops (`Generator.binomial`).
Conventions shared with the JAX env: actions sanitised (NaN -> 0, -inf or
negative -> 0, +inf or above B -> B) and, under `integer` allocation, whole blocks, an empty window has loss 0 and is flagged,
markov users on never-seen counts stay put, auto-reset after `episode_len`.
"""

from __future__ import annotations

import numpy as np

from difsched_jax.env.core import loss_to_reward
from difsched_jax.env.traffic_models import traffic_model


def sanitize_np(r, budget: float) -> np.ndarray:
    r = np.nan_to_num(np.asarray(r, np.float64), nan=0.0, posinf=budget, neginf=0.0)
    return np.clip(r, 0.0, budget)


def whole_blocks_np(r) -> np.ndarray:
    """`channel.whole_blocks` over the last axis: floor, then the blocks left of the
    rounded total to the largest fractional parts (ties to the lower index)."""
    r = np.asarray(r, np.float32).astype(np.float64)
    base = np.floor(r)
    frac = r - base
    left = np.floor(r.sum(axis=-1, keepdims=True) + 0.5) - base.sum(axis=-1, keepdims=True)
    rank = np.argsort(np.argsort(-frac, axis=-1, kind="stable"), axis=-1, kind="stable")
    return base + ((rank < left) & (frac > 0))


def request_np(r, budget: float, allocation: str) -> np.ndarray:
    """Sanitised request, in whole blocks under `integer` (the JAX `executed_request`)."""
    r = sanitize_np(r, budget)
    return whole_blocks_np(r) if allocation == "integer" else r


def grid_index_np(r, budget: int) -> np.ndarray:
    """The reference's mapping: searchsorted(arange(B), r, 'left'), capped at B-1."""
    return np.minimum(np.searchsorted(np.arange(budget), r, side="left"), budget - 1)


def success_curve_np(sigmoid_k, sigmoid_s, budget: int) -> np.ndarray:
    """(P, B) p(idx) = 1 / (1 + exp(-k (idx - s))) for each channel pair."""
    k = np.asarray(sigmoid_k, np.float64)[:, None]
    s = np.asarray(sigmoid_s, np.float64)[:, None]
    return 1.0 / (1.0 + np.exp(-k * (np.arange(budget)[None, :] - s)))


def window_cost_np(lost, total, objective: str, window: int):
    """The window's cost from packets lost per user (..., N) and sent in all (...):
    the packet-loss rate, or under "worst_user" the most one user lost / L; 0 if empty."""
    lost = np.asarray(lost)
    if objective == "worst_user":
        cost = lost.max(axis=-1) / window
    else:
        cost = lost.sum(axis=-1) / np.maximum(total, 1)
    return np.where(np.asarray(total) > 0, cost, 0.0)


def budget_rule_np(r, budget: float, rng: np.random.Generator | None, order=None) -> np.ndarray:
    """Visit users in a random order (or the given one); each gets min(r_i, remaining)
    (a loop, as the reference)."""
    r = np.asarray(r, np.float64)
    if r.sum() <= budget:
        return r.copy()
    granted = np.zeros_like(r)
    remaining = float(budget)
    for i in rng.permutation(r.shape[0]) if order is None else order:
        if remaining <= 0:
            break
        granted[i] = min(r[i], remaining)
        remaining -= granted[i]
    return granted


def reference_args(params, spec) -> dict:
    """`ReferenceSlice` keyword arguments (less seed) of JAX `EnvParams`/`EnvSpec`."""
    import jax

    model_params = jax.tree.map(np.asarray, params.traffic_params)
    return {
        "actual": np.asarray(params.actual),
        "observed": np.asarray(params.observed),
        "sigmoid_k": np.asarray(params.sigmoid_k),
        "sigmoid_s": np.asarray(params.sigmoid_s),
        "budget": int(params.budget),
        "num_users": spec.num_users,
        "window": spec.window,
        "episode_len": spec.episode_len,
        "traffic": spec.traffic,
        "traffic_params": model_params,
        "allocation": spec.allocation,
        "objective": spec.objective,
    }


class ReferenceSlice:
    """One slice stepped slot by slot (the "numpy_loop" baseline)."""

    def __init__(
        self,
        actual,
        observed,
        sigmoid_k,
        sigmoid_s,
        budget: int,
        num_users: int,
        window: int = 200,
        episode_len: int = 1000,
        traffic: str = "trace",
        traffic_params=None,
        allocation: str = "integer",
        objective: str = "loss",
        seed: int = 0,
    ):
        self.actual = np.asarray(actual, np.int64)
        self.observed = np.asarray(observed, np.int64)
        self.curve = success_curve_np(sigmoid_k, sigmoid_s, budget)  # (P, B)
        self.budget, self.num_users, self.window = int(budget), int(num_users), int(window)
        self.episode_len, self.traffic = int(episode_len), traffic
        self.model, self.traffic_params = traffic_model(traffic), traffic_params
        self.allocation, self.objective = allocation, objective
        self.rng = np.random.default_rng(seed)
        self.reset()

    @classmethod
    def from_params(cls, params, spec, seed: int = 0) -> ReferenceSlice:
        """The slice of JAX `EnvParams`/`EnvSpec` (same traces, pairs, budget, modes)."""
        return cls(**reference_args(params, spec), seed=seed)

    def set_state(self, cursors, channel: int, t: int = 0, counts=None) -> np.ndarray:
        """Put the slice in a given state (counts default to the trace at the cursors)."""
        self.cursors = np.asarray(cursors, np.int64).copy()
        self.counts = self.actual[self.cursors] if counts is None else np.asarray(counts).copy()
        self.obs = self.model.numpy_observe(self.cursors, self.counts, self.observed)
        self.channel, self.t = int(channel), int(t)
        return self.obs

    def reset(self) -> np.ndarray:
        length = self.actual.shape[0]
        start = self.rng.integers(0, length - 1, size=self.num_users)  # [0, T-2]
        return self.set_state((start + 1) % length, self.rng.integers(self.curve.shape[0]))

    def _lost_packets(self, p: np.ndarray) -> np.ndarray:
        """Slot by slot: user i sends in slots 0..u_i-1, each packet a Bernoulli trial.
        (N,) packets lost per user."""
        lost = np.zeros(self.num_users, np.int64)
        for slot in range(self.window):
            for i in range(self.num_users):
                if slot < self.counts[i] and self.rng.random() >= p[i]:
                    lost[i] += 1
        return lost

    def _next_counts(self) -> None:
        self.cursors, self.counts, self.obs = self.model.numpy_advance(
            self.rng, self.cursors, self.counts, self.actual, self.observed, self.traffic_params
        )

    def step(self, r) -> tuple[np.ndarray, float, bool, dict]:
        """(obs, reward, done, info) for the allocation r (N,) in resource blocks."""
        request = request_np(r, self.budget, self.allocation)
        granted = budget_rule_np(request, self.budget, self.rng)
        p = self.curve[self.channel, grid_index_np(granted, self.budget)]  # (N,)
        actual = self.counts.copy()
        total = int(actual.sum())
        lost = self._lost_packets(p)
        loss = float(window_cost_np(lost, total, self.objective, self.window))
        self._next_counts()
        self.channel = int(self.rng.integers(self.curve.shape[0]))
        self.t += 1
        done = self.t >= self.episode_len
        info = {"loss": loss, "empty": total == 0, "granted": granted, "actual": actual}
        info["next_obs"] = self.obs.copy()
        if done:
            self.reset()
        return self.obs, loss_to_reward(loss), done, info


class VectorizedSlices:
    """The same model over S slices with NumPy array ops (the "numpy_vectorized" baseline)."""

    def __init__(self, ref_args: dict, num_slices: int, seed: int = 0):
        """ref_args: the keyword arguments of `ReferenceSlice` (without seed)."""
        self.base = ReferenceSlice(**ref_args, seed=seed)  # parameters and helpers
        self.num_slices = int(num_slices)
        self.rng = np.random.default_rng(seed)
        self.reset()

    def _reset_rows(self, rows: np.ndarray) -> None:
        b = self.base
        length = b.actual.shape[0]
        start = self.rng.integers(0, length - 1, size=(rows.shape[0], b.num_users))
        self.cursors[rows] = (start + 1) % length
        self.counts[rows] = b.actual[self.cursors[rows]]
        self.obs[rows] = b.model.numpy_observe(self.cursors[rows], self.counts[rows], b.observed)
        self.channel[rows] = self.rng.integers(b.curve.shape[0], size=rows.shape[0])
        self.t[rows] = 0

    def reset(self) -> np.ndarray:
        shape = (self.num_slices, self.base.num_users)
        self.cursors = np.zeros(shape, np.int64)
        self.counts, self.obs = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        self.channel, self.t = (
            np.zeros(self.num_slices, np.int64),
            np.zeros(self.num_slices, np.int64),
        )
        self._reset_rows(np.arange(self.num_slices))
        return self.obs

    def _budget(self, r: np.ndarray) -> np.ndarray:
        """Random-order rule on every over-budget row at once. r: (S, N)."""
        budget = self.base.budget
        over = r.sum(axis=1, keepdims=True) > budget
        if not over.any():  # the rule would return r (the JAX rollout skips it too)
            return r
        order = np.argsort(self.rng.random(r.shape), axis=1)  # (S, N) random permutations
        r_ord = np.take_along_axis(r, order, axis=1)
        before = np.cumsum(r_ord, axis=1) - r_ord
        granted = np.empty_like(r)
        np.put_along_axis(granted, order, np.minimum(r_ord, np.maximum(budget - before, 0.0)), 1)
        return np.where(over, granted, r)

    def step(self, r) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """r: (S, N) allocations. Returns obs (S, N), reward (S,), done (S,), info."""
        b = self.base
        granted = self._budget(request_np(r, b.budget, b.allocation))
        p = b.curve[self.channel[:, None], grid_index_np(granted, b.budget)]  # (S, N)
        actual = self.counts
        total = actual.sum(axis=1)
        lost = self.rng.binomial(actual, 1.0 - p)  # (S, N)
        loss = window_cost_np(lost, total, b.objective, b.window)
        self.cursors, self.counts, self.obs = b.model.numpy_advance(
            self.rng, self.cursors, actual, b.actual, b.observed, b.traffic_params
        )
        self.channel = self.rng.integers(b.curve.shape[0], size=self.num_slices)
        self.t = self.t + 1
        done = self.t >= b.episode_len
        info = {"loss": loss, "empty": total == 0, "granted": granted, "actual": actual}
        info["next_obs"] = self.obs.copy()
        if done.any():
            self._reset_rows(np.flatnonzero(done))
        return self.obs, loss_to_reward(loss), done, info
