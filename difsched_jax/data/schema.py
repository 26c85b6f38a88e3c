"""What a dataset stores per transition, in which compact dtype, and the on-device cast.

A shard holds every field with leading axes (windows, slices) followed by the
field's per-transition shape; e.g. ``obs`` of a shard of 100 windows x 4096
slices of a 20-user config is (100, 4096, 20) uint8.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.env import Transition

FORMAT = "difsched-offline-dataset"
FORMAT_VERSION = 2
# version 1 had no "granted" field (the trainers then fall back to the requested action)
READABLE_VERSIONS = (1, 2)

# field -> (per-transition shape kind, dtype); "users" = (N,), "scalar" = ()
# Counts are 0..L, so uint8 when L <= 255 and int16 otherwise (see count_dtype).
FIELDS: dict[str, tuple[str, str]] = {
    "obs": ("users", "counts"),  # observed counts of this window (what the policy saw)
    "action": ("users", "float32"),  # requested allocation r, resource blocks
    "granted": ("users", "float32"),  # allocation after the budget rule (what was executed)
    "loss": ("scalar", "float32"),  # packet-loss rate of the window
    "next_obs": ("users", "counts"),  # observation of the next window (before any reset)
    "actual": ("users", "counts"),  # actual counts (losses are computed on these)
    "episode_start": ("scalar", "bool"),  # first window of an episode
    "done": ("scalar", "bool"),  # last window of an episode
}


def count_dtype(window: int) -> np.dtype:
    """uint8 holds counts 0..255; longer windows need int16 (max 32767)."""
    if window <= np.iinfo(np.uint8).max:
        return np.dtype(np.uint8)
    if window <= np.iinfo(np.int16).max:
        return np.dtype(np.int16)
    raise ValueError(f"window {window} is too long for a compact count dtype (max 32767)")


def field_specs(num_users: int, window: int) -> dict[str, dict]:
    """{field: {"dtype": str, "shape": per-transition shape}} as recorded in meta.json."""
    specs = {}
    for name, (kind, dtype) in FIELDS.items():
        dt = count_dtype(window) if dtype == "counts" else np.dtype(dtype)
        shape = [num_users] if kind == "users" else []
        specs[name] = {"dtype": dt.name, "shape": shape}
    return specs


def bytes_per_transition(num_users: int, window: int) -> int:
    total = 0
    for spec in field_specs(num_users, window).values():
        total += np.dtype(spec["dtype"]).itemsize * int(np.prod(spec["shape"], dtype=np.int64))
    return total


def compact(record: Transition, window: int) -> dict[str, jax.Array]:
    """Cast a rollout record to the stored dtypes (on device, so transfers are small)."""
    counts = jnp.dtype(count_dtype(window))
    return {
        "obs": record.obs.astype(counts),
        "action": record.action.astype(jnp.float32),
        "granted": record.granted.astype(jnp.float32),
        "loss": record.loss.astype(jnp.float32),
        "next_obs": record.next_obs.astype(counts),
        "actual": record.actual.astype(counts),
        "episode_start": record.episode_start.astype(jnp.bool_),
        "done": record.done.astype(jnp.bool_),
    }
