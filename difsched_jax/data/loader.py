"""`load_dataset(path)`: open a dataset folder, check it, stream or memory-map its shards.

A dataset is a folder with meta.json and shards, or (several hosts) a folder of
``part-PPP-of-NNN`` such folders, one per host, each covering a contiguous range
of slice ids. Everything is checked before any data is used: meta.json, that the
shards tile every window of every set, that each file exists with its recorded
size and SHA-256, and that every member has the recorded dtype and shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from difsched_jax.data import schema
from difsched_jax.data.storage import META_NAME, DatasetError, open_npz, read_meta, sha256_file

_SAME_IN_EVERY_PART = ("format_version", "config", "generation", "fields")


@dataclass(frozen=True)
class Shard:
    path: str
    set: int  # sub-agent set
    window_start: int
    window_stop: int
    slice_start: int  # global slice ids [slice_start, slice_stop) within the set
    slice_stop: int


class OfflineDataset:
    """A checked dataset. Global slice axis = set-major: index set * S + slice id."""

    def __init__(self, path: str, metas: list[dict], shards: list[Shard], mmap: bool):
        self.path = path
        self.meta = metas[0]
        self.parts = metas
        self.shards = shards
        self._mmap = mmap
        gen = self.meta["generation"]
        self.num_sets = int(gen["num_sets"])
        self.slices_per_set = int(gen["num_slices"])
        self.num_slices = self.num_sets * self.slices_per_set
        self.num_windows = int(gen["num_windows"])
        self.num_users = int(self.meta["config"]["num_users"])
        self.budget = int(self.meta["config"]["budget"])
        self.window = int(self.meta["config"]["window"])
        # datasets written before the setting existed executed the reference's ceil
        self.allocation = str(self.meta["config"].get("allocation", "reference"))
        self.objective = str(self.meta["config"].get("objective", "loss"))
        self.fields = {
            k: (np.dtype(v["dtype"]), tuple(v["shape"])) for k, v in self.meta["fields"].items()
        }

    @property
    def num_transitions(self) -> int:
        return self.num_windows * self.num_slices

    def __repr__(self) -> str:
        return (f"OfflineDataset({self.path!r}, windows={self.num_windows}, slices={self.num_slices}, "
                f"users={self.num_users}, shards={len(self.shards)})")  # fmt: skip

    def open_shard(self, shard: Shard, fields=None) -> dict[str, np.ndarray]:
        """{field: (windows, slices, ...) array} of one shard, memory-mapped (read-only)
        unless the dataset was opened with mmap=False."""
        arrays = open_npz(shard.path, mmap=self._mmap)
        return {k: arrays[k] for k in (fields or self.fields)}

    def iter_shards(self, fields=None):
        """Yield (Shard, {field: (windows, slices, ...) array}) shard by shard."""
        for shard in self.shards:
            yield shard, self.open_shard(shard, fields)

    def arrays(self, fields=None, slices: slice | None = None) -> dict[str, np.ndarray]:
        """Fields as in-memory arrays (windows, chosen global slices, ...)."""
        names = list(fields or self.fields)
        chosen = np.arange(self.num_slices)[slices if slices is not None else slice(None)]
        where = np.full(self.num_slices, -1)
        where[chosen] = np.arange(chosen.size)
        out = {
            k: np.empty((self.num_windows, chosen.size, *self.fields[k][1]), self.fields[k][0])
            for k in names
        }
        for shard, data in self.iter_shards(names):
            base = shard.set * self.slices_per_set
            ids = np.arange(base + shard.slice_start, base + shard.slice_stop)
            take = where[ids] >= 0
            if not take.any():
                continue
            rows = slice(shard.window_start, shard.window_stop)
            for k in names:
                out[k][rows, where[ids[take]]] = data[k][:, take]
        return out

    def flat(self, fields=None, slices: slice | None = None) -> dict[str, np.ndarray]:
        """Fields with (windows, slices) merged into one transition axis, window-major."""
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in self.arrays(fields, slices).items()}


def _part_folders(path: str) -> list[str]:
    if os.path.exists(os.path.join(path, META_NAME)):
        return [path]
    if not os.path.isdir(path):
        raise DatasetError(f"{path}: no such dataset folder")
    parts = sorted(
        os.path.join(path, n) for n in os.listdir(path)
        if n.startswith("part-") and os.path.exists(os.path.join(path, n, META_NAME))
    )  # fmt: skip
    if not parts:
        raise DatasetError(f"{path}: no {META_NAME} here nor in part-* folders; not a dataset")
    return parts


def _check_meta(folder: str, meta: dict) -> None:
    if meta.get("format") != schema.FORMAT:
        raise DatasetError(
            f"{folder}: meta.json is not a {schema.FORMAT} (format {meta.get('format')!r})"
        )
    if meta.get("format_version") not in schema.READABLE_VERSIONS:
        raise DatasetError(f"{folder}: format version {meta.get('format_version')!r} is not supported "
                           f"(this code reads {schema.READABLE_VERSIONS})")  # fmt: skip
    for key in ("config", "generation", "part", "fields", "shards"):
        if key not in meta:
            raise DatasetError(f"{folder}: meta.json lacks {key!r}")
    if not meta.get("complete"):
        from difsched_jax.locking import folder_in_use

        if folder_in_use(folder):
            raise DatasetError(
                f"{folder}: a running gen-dataset is still writing it ({len(meta['shards'])} "
                "shards so far): wait for it to finish"
            )
        raise DatasetError(
            f"{folder}: the dataset is incomplete ({len(meta['shards'])} shards written; the run "
            f"was interrupted): finish it with `difsched gen-dataset ... --resume`"
        )


def _check_shard(folder: str, entry: dict, meta: dict, verify: bool) -> Shard:
    name = entry.get("file", "?")
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        raise DatasetError(f"{folder}: shard {name} is missing (listed in meta.json)")
    size = os.path.getsize(path)
    if size != entry["bytes"]:
        raise DatasetError(f"{folder}: shard {name} is {size} bytes, meta.json records "
                           f"{entry['bytes']}: the file is truncated or altered")  # fmt: skip
    if verify and sha256_file(path) != entry["sha256"]:
        raise DatasetError(
            f"{folder}: shard {name} fails its SHA-256 check: the file was altered or damaged"
        )
    part = meta["part"]
    lead = (entry["window_stop"] - entry["window_start"], part["slice_stop"] - part["slice_start"])
    arrays = open_npz(path, mmap=True)  # reads headers only
    for field, spec in meta["fields"].items():
        if field not in arrays:
            raise DatasetError(f"{folder}: shard {name} has no field {field!r}")
        want = (*lead, *spec["shape"])
        got = arrays[field]
        if got.shape != want or got.dtype != np.dtype(spec["dtype"]):
            raise DatasetError(f"{folder}: shard {name} field {field!r} is {got.dtype}{list(got.shape)}, "
                               f"expected {spec['dtype']}{list(want)}")  # fmt: skip
    return Shard(path, entry["set"], entry["window_start"], entry["window_stop"],
                 part["slice_start"], part["slice_stop"])  # fmt: skip


def _check_tiling(path: str, metas: list[dict], shards: list[Shard]) -> None:
    gen = metas[0]["generation"]
    ranges = sorted((m["part"]["slice_start"], m["part"]["slice_stop"]) for m in metas)
    edge = 0
    for a, b in ranges:
        if a != edge:
            raise DatasetError(f"{path}: host parts do not cover slices {edge}..{a - 1}")
        edge = b
    if edge != gen["num_slices"]:
        raise DatasetError(f"{path}: host parts cover slices 0..{edge - 1} of {gen['num_slices']}")
    for a, _ in ranges:
        for s in range(gen["num_sets"]):
            spans = sorted(
                (x.window_start, x.window_stop) for x in shards if x.slice_start == a and x.set == s
            )
            w = 0
            for w0, w1 in spans:
                if w0 != w or w1 <= w0:
                    raise DatasetError(
                        f"{path}: set {s}, slices from {a}: windows {w}..{w0 - 1} have no shard"
                    )
                w = w1
            if w != gen["num_windows"]:
                raise DatasetError(f"{path}: set {s}, slices from {a}: shards end at window {w} "
                                   f"of {gen['num_windows']}")  # fmt: skip


def load_dataset(path: str | os.PathLike, verify: bool = True, mmap: bool = True) -> OfflineDataset:
    """Open and check a dataset written by `generate_dataset` / `difsched gen-dataset`.

    verify: check every shard's SHA-256 (reads each file once); sizes, dtypes and
    shapes are always checked. Raises `DatasetError` naming the folder and shard
    on anything missing, truncated, altered or incomplete."""
    path = os.fspath(path)
    folders = _part_folders(path)
    metas = []
    for folder in folders:
        meta = read_meta(folder)
        _check_meta(folder, meta)
        metas.append(meta)
    for folder, meta in zip(folders[1:], metas[1:]):
        for key in _SAME_IN_EVERY_PART:
            if meta.get(key) != metas[0].get(key):
                raise DatasetError(
                    f"{folder}: '{key}' differs from {folders[0]}; parts of different runs"
                )
    shards = [
        _check_shard(folder, entry, meta, verify)
        for folder, meta in zip(folders, metas) for entry in meta["shards"]
    ]  # fmt: skip
    _check_tiling(path, metas, shards)
    return OfflineDataset(path, metas, shards, mmap)
