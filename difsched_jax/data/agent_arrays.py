"""Agent-facing arrays for the Diffusion-QL trainer (SPEC §1 conventions).

    state      = 2u/L - 1           (M, N) float32 in [-1, 1]
    action     = clip(2r/B - 1)     (M, N) float32 in [-1, 1]  (r = requested allocation)
    granted    = clip(2g/B - 1)     (M, N) float32 (g = allocation after the budget rule;
                 datasets of format 1 lack it: then the requested action)
    reward     = 1 - loss           (M,)   float32
    next_state = 2u'/L - 1          (M, N) float32
    done       = last window of an episode (M,) float32 (a time limit: the
                 trainer may prefer not to cut bootstrapping there)

Computed in NumPy (same formulas as `env.normalize_obs` / `env.allocation_to_action`)
so a large dataset is not copied onto the accelerator.
"""

from __future__ import annotations

import numpy as np

from difsched_jax.data.loader import OfflineDataset
from difsched_jax.env.core import loss_to_reward

AGENT_FIELDS = ("obs", "action", "granted", "loss", "next_obs", "done")


def agent_arrays_from(data: dict, budget: float, window: int) -> dict[str, np.ndarray]:
    """From stored fields (any leading shape) to the trainer's arrays, flattened to (M, ...)."""
    n = data["obs"].shape[-1]
    obs = np.asarray(data["obs"]).reshape(-1, n)
    next_obs = np.asarray(data["next_obs"]).reshape(-1, n)
    b = np.float32(budget)
    scale = np.float32(2.0 / window)

    def to_action(r):
        r = np.asarray(r, np.float32).reshape(-1, n)
        return np.clip(np.float32(2.0) * r / b - np.float32(1.0), -1.0, 1.0)

    action = to_action(data["action"])
    return {
        "state": obs.astype(np.float32) * scale - np.float32(1.0),
        "action": action,
        "granted": to_action(data["granted"]) if "granted" in data else action,
        "reward": loss_to_reward(np.asarray(data["loss"], np.float32)).reshape(-1),
        "next_state": next_obs.astype(np.float32) * scale - np.float32(1.0),
        "done": np.asarray(data["done"]).reshape(-1).astype(np.float32),
    }


def to_agent_arrays(dataset: OfflineDataset, slices: slice | None = None) -> dict[str, np.ndarray]:
    """A loaded dataset (optionally a range of its global slices) as trainer arrays,
    transitions window-major: (T * S_chosen, ...)."""
    data = dataset.arrays([f for f in AGENT_FIELDS if f in dataset.fields], slices)
    return agent_arrays_from(data, dataset.budget, dataset.window)
