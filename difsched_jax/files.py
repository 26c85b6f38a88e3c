"""Writing files whole (atomic renames), and reading them back with errors that
name the file.

NumPy and json raise many kinds of errors for a damaged file (BadZipFile for a bad
CRC, EOFError, ValueError, zlib.error, UnicodeDecodeError); here every one of them
becomes a `DamagedFile` (a ValueError, so the CLI reports it in one line and exits
with status 2) saying which file and what is wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import numpy as np


class DamagedFile(ValueError):
    """A file that exists but cannot be read as what it should be."""


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write through a temporary file (this process's) and a rename: a kill leaves the
    old file or the new one, and a failed write (a full disk) leaves no temporary."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path: str | os.PathLike, obj, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent, default=str))


def read_npz(path: str | os.PathLike, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Every member (or those of `keys` that it has) of an .npz, read into memory now:
    a damaged member is found here, not later by whoever uses the array."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            names = data.files if keys is None else [k for k in keys if k in data.files]
            return {k: np.asarray(data[k]) for k in names}
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - any way a damaged archive fails
        raise DamagedFile(f"{path}: not a readable .npz, damaged ({type(e).__name__}: {e})") from e


def read_json(path: str | os.PathLike):
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise
    except (ValueError, UnicodeDecodeError) as e:
        raise DamagedFile(f"{path}: not readable JSON, damaged ({e})") from e


def read_jsonl(path: str | os.PathLike) -> list:
    """One JSON value per non-empty line."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (ValueError, UnicodeDecodeError) as e:
        raise DamagedFile(f"{path}: not readable JSON lines, damaged ({e})") from e
