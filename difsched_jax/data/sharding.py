"""The slice axis over devices (a 1-D Mesh) and over hosts (contiguous shares).

Every slice's randomness comes from its global slice id alone
(`env.rollout.slice_keys`), so how slices are spread over devices or hosts
never changes the data. Each host generates the slices of its share on a mesh
of its own local devices: no traffic between hosts is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "slices"


def slice_mesh(devices: int | Sequence | None = None) -> Mesh:
    """1-D mesh over the local devices (all of them, the first `n`, or those given)."""
    local = jax.local_devices()
    if devices is None:
        chosen = local
    elif isinstance(devices, int):
        if not 1 <= devices <= len(local):
            raise ValueError(f"devices must be in 1..{len(local)} (local devices), got {devices}")
        chosen = local[:devices]
    else:
        chosen = list(devices)
    return Mesh(np.array(chosen), (AXIS,))


def leading(mesh: Mesh) -> NamedSharding:
    """Arrays whose first axis is the slice axis (the rollout carry)."""
    return NamedSharding(mesh, P(AXIS))


def second(mesh: Mesh) -> NamedSharding:
    """Arrays shaped (windows, slices, ...) (the chunk's records)."""
    return NamedSharding(mesh, P(None, AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def padded_size(num_slices: int, num_devices: int) -> int:
    """Slices rounded up to a multiple of the device count (extra slices are dropped)."""
    return -(-num_slices // num_devices) * num_devices


def host_share(num_slices: int, process_index: int, process_count: int) -> tuple[int, int]:
    """[start, stop) of the global slice ids that host `process_index` generates."""
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index {process_index} outside 0..{process_count - 1}")
    if num_slices < process_count:
        raise ValueError(f"{num_slices} slices cannot be shared by {process_count} hosts")
    start = num_slices * process_index // process_count
    stop = num_slices * (process_index + 1) // process_count
    return start, stop
