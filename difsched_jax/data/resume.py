"""meta.json of a run, and resuming an interrupted run from its last complete shard.

Every shard except the last of a set holds the rollout carry after its last
window (per-slice env states and keys), so a run can restart exactly there.
A resumed run must match the first one in everything that changes the data
(config, trace, policies, seed, sizes, host share); the chunk size and the
device count may differ (they do not change the data).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os

import jax
import numpy as np

from difsched_jax import __version__
from difsched_jax.data import schema
from difsched_jax.data.storage import (
    CARRY_PREFIX,
    META_NAME,
    DatasetError,
    open_npz,
    read_meta,
    sha256_file,
)

IDENTITY_KEYS = ("format", "format_version", "config", "generation", "part", "fields")


# the gen-dataset flag behind a setting saved in meta.json
FLAG_OF = {
    "generation.num_slices": "--slices", "generation.num_windows": "--windows",
    "generation.episode_len": "--episode-len", "generation.obs": "--obs",
    "generation.split": "--split", "generation.seed": "--seed",
    "generation.num_sets": "--agents (the behaviour policies)",
    "generation.policies": "--agents or --behaviour-noise (the behaviour policies)",
    "generation.env_sha256": "the traffic (--traffic-dir, --traffic-seed or --alignment)",
    "config.allocation": "--allocation", "config.objective": "--objective",
    "config": "--dataset-config",
    "part": "the process split (--distributed, --num-processes, --process-id)",
    "fields": "--dataset-config", "format": "the dataset format (another version)",
    "format_version": "the dataset format (another version)",
}  # fmt: skip


def _first_difference(old, new, path: str):
    """(dotted path, old, new) of the first leaf where two JSON trees differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            if old.get(k) != new.get(k):
                return _first_difference(old.get(k), new.get(k), f"{path}.{k}")
    return path, old, new


def _what_sets(path: str) -> str:
    for prefix in sorted(FLAG_OF, key=len, reverse=True):
        if path == prefix or path.startswith(prefix + "."):
            return FLAG_OF[prefix]
    return path


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fingerprint(tree) -> str:
    """SHA-256 over the shapes, dtypes and bytes of a pytree's leaves."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        arr = np.asarray(leaf)
        digest.update(f"{arr.shape}{arr.dtype}".encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def new_meta(config, params, policies, spec, obs, split, seed, num_slices, num_windows,
             part, chunk, mesh, info) -> dict:  # fmt: skip
    slice_start, slice_stop, process_index, process_count = part
    meta = {
        "format": schema.FORMAT,
        "format_version": schema.FORMAT_VERSION,
        "package_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "generation": {
            "seed": seed,
            "num_slices": num_slices,
            "num_windows": num_windows,
            "episode_len": spec.episode_len,
            "obs": obs,
            "split": split,
            "num_sets": len(policies),
            "env_sha256": fingerprint(params),
            "policies": [
                {
                    "act": f"{getattr(a, '__module__', '?')}.{getattr(a, '__qualname__', repr(a))}",
                    "params_sha256": fingerprint(p),
                }  # fmt: skip
                for a, p in policies
            ],
        },
        "part": {
            "slice_start": slice_start,
            "slice_stop": slice_stop,
            "process_index": process_index,
            "process_count": process_count,
        },
        "fields": schema.field_specs(config.num_users, config.window),
        "layout": "each field (windows, slices, *shape); sets concatenate along slices",
        "chunk_windows": chunk,
        "devices": [str(d) for d in mesh.devices.flat],
        "info": info or {},
        "shards": [],
        "complete": False,
    }
    return json.loads(json.dumps(meta))  # tuples -> lists, as a reloaded meta.json has them


def prepare_folder(folder: str, meta: dict, resume: bool) -> tuple[dict, dict[int, int]]:
    """Make the folder ready. Returns the meta to continue with and, per set,
    the first window still to generate."""
    if not os.path.exists(os.path.join(folder, META_NAME)):
        if os.path.isdir(folder) and os.listdir(folder):
            raise DatasetError(
                f"{folder} exists, is not empty and holds no {META_NAME}: choose an empty folder"
            )
        os.makedirs(folder, exist_ok=True)
        return meta, {}
    if not resume:
        raise DatasetError(
            f"{folder} already holds a dataset: pass --resume to continue it, or choose another folder"
        )
    old = read_meta(folder)
    for key in IDENTITY_KEYS:
        if old.get(key) != meta[key]:
            where, was, now = _first_difference(old.get(key), meta[key], key)
            raise DatasetError(
                f"cannot resume {folder}: {_what_sets(where)} differs from the run that wrote "
                f"it ({where} was {_short(was)}, now {_short(now)}); give the flags it was "
                "started with"
            )
    kept = _complete_prefix(folder, old.get("shards", []), meta["generation"]["num_windows"])
    _remove_strays(folder, {s["file"] for s in kept})
    start: dict[int, int] = {}
    for s in kept:
        start[s["set"]] = s["window_stop"]
    meta = {**meta, "created": old.get("created", meta["created"]), "shards": kept}
    meta["resumed"] = old.get("resumed", []) + [
        {"at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
         "shards_kept": len(kept), "shards_dropped": len(old.get("shards", [])) - len(kept)}
    ]  # fmt: skip
    return meta, start


def _complete_prefix(folder: str, shards: list[dict], num_windows: int) -> list[dict]:
    """The listed shards up to the first one that is missing, damaged or out of order."""
    kept: list[dict] = []
    expect_set, expect_w = 0, 0
    for s in shards:
        if (s.get("set"), s.get("window_start")) != (expect_set, expect_w):
            break
        path = os.path.join(folder, s["file"])
        if not os.path.exists(path) or os.path.getsize(path) != s.get("bytes"):
            break
        if sha256_file(path) != s.get("sha256"):
            break
        kept.append(s)
        expect_w = s["window_stop"]
        if expect_w >= num_windows:
            expect_set, expect_w = expect_set + 1, 0
    return kept


def _remove_strays(folder: str, keep: set[str]) -> None:
    for name in os.listdir(folder):
        stray_shard = name.startswith("shard-") and name.endswith(".npz") and name not in keep
        if stray_shard or name.endswith(".tmp"):
            os.remove(os.path.join(folder, name))


def carry_to_host(carry, local: int) -> dict[str, np.ndarray]:
    """The carry's leaves (keys as raw key data) for the first `local` slices."""
    out = {}
    for i, leaf in enumerate(jax.tree.leaves(carry)):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out[f"{CARRY_PREFIX}{i}"] = np.asarray(leaf)[:local]
    return out


def restore_carry(folder, meta, set_index, window, template, local, sharding):
    """The carry stored in the shard of `set_index` ending at `window`; padding slices
    (beyond `local`) keep the template's values (their data are dropped)."""
    entry = next(
        (s for s in meta["shards"] if s["set"] == set_index and s["window_stop"] == window), None
    )
    if entry is None:
        raise DatasetError(f"{folder}: no shard of set {set_index} ends at window {window}")
    stored = open_npz(os.path.join(folder, entry["file"]), mmap=False)
    leaves, treedef = jax.tree.flatten(template)
    restored = []
    for i, leaf in enumerate(leaves):
        name = f"{CARRY_PREFIX}{i}"
        if name not in stored:
            raise DatasetError(f"{entry['file']}: no rollout carry ({name}); cannot resume from it")
        is_key = jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
        base = np.asarray(jax.random.key_data(leaf) if is_key else leaf)
        full = np.concatenate([stored[name], base[local:]]).astype(base.dtype)
        if full.shape != base.shape:
            raise DatasetError(f"{entry['file']}: carry {name} has shape {stored[name].shape}")
        if is_key:
            full = jax.random.wrap_key_data(full, impl=jax.random.key_impl(leaf))
        restored.append(full)
    return jax.device_put(jax.tree.unflatten(treedef, restored), sharding)
