"""Offline datasets: vectorised sharded generation, checked storage, loading, agent arrays."""

from difsched_jax.data.agent_arrays import agent_arrays_from, to_agent_arrays
from difsched_jax.data.fidelity import compare_to_reference, ks_critical, ks_statistic
from difsched_jax.data.generate import generate_dataset
from difsched_jax.data.loader import OfflineDataset, Shard, load_dataset
from difsched_jax.data.storage import DatasetError

__all__ = [
    "DatasetError",
    "OfflineDataset",
    "Shard",
    "agent_arrays_from",
    "compare_to_reference",
    "generate_dataset",
    "ks_critical",
    "ks_statistic",
    "load_dataset",
    "to_agent_arrays",
]
