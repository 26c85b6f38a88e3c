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


def write_atomic(path: str | os.PathLike, write) -> str:
    """`write(tmp)` then rename tmp to `path`: a kill leaves the old file or the new one.
    A failed write (a full disk, a folder made read-only) leaves neither a temporary nor
    a partial `path`, and its OSError names `path`. Returns `path`."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        os.makedirs(parent, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and path not in str(e):
            why = e.strerror or str(e)
            raise OSError(e.errno, f"could not write {path} ({why}); nothing was written") from e
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write through a temporary file (this process's) and a rename (see `write_atomic`)."""

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    write_atomic(path, write)


def write_json_atomic(path: str | os.PathLike, obj, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent, default=str))


def save_figure_atomic(fig, path: str | os.PathLike, **savefig_kw) -> str:
    """A matplotlib figure written whole (see `write_atomic`); the format is `path`'s suffix."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas is None or not hasattr(fig.canvas, "print_figure"):
        FigureCanvasAgg(fig)
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    return write_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kw))


def file_kind(path: str | os.PathLike) -> str:
    """What a file is, from its first bytes: 'npz', 'npy', 'pickle', 'gzip', 'text',
    'empty' or 'binary' (for messages that say what was given instead)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:1] == b"\x80":
        return "pickle"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


KIND_WORDS = {
    "npy": "a single NumPy array (.npy)", "pickle": "a Python pickle",
    "gzip": "a gzip file", "text": "a text file (CSV or similar)", "empty": "an empty file",
    "binary": "a binary file of unknown kind", "npz": "a NumPy .npz archive",
}  # fmt: skip


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
