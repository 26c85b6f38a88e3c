"""Shard files and meta.json: atomic writes, SHA-256, and memory-mapped reads.

A shard is an uncompressed ``.npz`` (``allow_pickle=False`` everywhere). Its
members are stored, not deflated, so each one can be memory-mapped straight
from the zip file (``np.load`` cannot memory-map an ``.npz``). Besides the data
fields a shard may hold the rollout carry after its last window (members
``carry__<i>``), which is what ``--resume`` restarts from.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile

import numpy as np

from difsched_jax.faults import crash_point
from difsched_jax.files import write_json_atomic

META_NAME = "meta.json"
META_SEAL = "sha256"  # meta.json's own field: the SHA-256 of the rest of it
CARRY_PREFIX = "carry__"
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # zip local file header, 30 bytes
_LOCAL_MAGIC = b"PK\x03\x04"


class DatasetError(ValueError):
    """A dataset folder, meta.json or shard that cannot be used; says which and why."""


def sha256_file(path: str, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def write_shard(path: str, arrays: dict[str, np.ndarray]) -> dict:
    """Write ``arrays`` as an uncompressed .npz via a temporary file and rename
    (a crash never leaves a half shard under the final name). Returns
    {"bytes", "sha256"} of the final file."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except BaseException:  # a full disk: no half shard left behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    crash_point("shard_tmp")  # the shard only under its temporary name
    digest = sha256_file(tmp)
    size = os.path.getsize(tmp)
    os.replace(tmp, path)
    return {"bytes": size, "sha256": digest}


def _seal(meta: dict) -> str:
    rest = {k: v for k, v in meta.items() if k != META_SEAL}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def write_meta(folder: str, meta: dict) -> None:
    """meta.json, sealed: `read_meta` refuses it once edited or damaged."""
    write_json_atomic(os.path.join(folder, META_NAME), {**meta, META_SEAL: _seal(meta)}, indent=1)


def read_meta(folder: str) -> dict:
    path = os.path.join(folder, META_NAME)
    if not os.path.exists(path):
        raise DatasetError(f"{folder}: no {META_NAME}; not a dataset folder (or not written yet)")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: cannot read meta data: {e}") from e
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    seal = meta.pop(META_SEAL, None)  # folders written before seals have none
    if seal is not None and seal != _seal(meta):
        raise DatasetError(
            f"{path}: edited or damaged after it was written (its SHA-256 seal does not match)"
        )
    return meta


def _member_offset(f, info: zipfile.ZipInfo) -> int:
    """Byte offset of a stored member's data (after its local header)."""
    f.seek(info.header_offset)
    raw = f.read(_LOCAL_HEADER.size)
    if len(raw) != _LOCAL_HEADER.size or raw[:4] != _LOCAL_MAGIC:
        raise DatasetError(f"bad zip local header for member {info.filename!r}")
    fields = _LOCAL_HEADER.unpack(raw)
    name_len, extra_len = fields[9], fields[10]
    return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len


def open_npz(path: str, mmap: bool = True) -> dict[str, np.ndarray]:
    """Every member of an .npz as an array: memory-mapped (read-only) when the member
    is stored uncompressed and ``mmap`` is set, else read into memory. Never unpickles."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise DatasetError(f"{path}: not a readable .npz ({e}); the shard is damaged") from e
    out = {}
    with zf, open(path, "rb") as f:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[:-4]
            if not mmap or info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as member:
                    out[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            f.seek(_member_offset(f, info))
            try:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f)
            except ValueError as e:
                raise DatasetError(f"{path}: member {name!r} has a damaged header ({e})") from e
            if dtype.hasobject:
                raise DatasetError(f"{path}: member {name!r} holds Python objects; refused")
            offset = f.tell()
            nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if offset + nbytes > os.path.getsize(path):
                raise DatasetError(f"{path}: member {name!r} runs past the end of the file")
            if nbytes == 0:
                out[name] = np.zeros(shape, dtype)
                continue
            out[name] = np.memmap(
                path, dtype=dtype, mode="r", offset=offset, shape=shape,
                order="F" if fortran else "C",
            )  # fmt: skip
    return out
