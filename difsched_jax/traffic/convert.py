"""Convert a reference trace pickle (a dict of NumPy arrays) to our `.npz` format.

Unpickling runs code named by the file, so a pickle is read here only through
`RestrictedUnpickler`: it resolves nothing but what NumPy arrays need to be
rebuilt, and refuses any other global (os.system, a custom class, ...) before
anything is called. The result must be a plain dict of arrays, validated as a
`Trace` like any `.npz`.
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from difsched_jax.files import KIND_WORDS, file_kind
from difsched_jax.traffic.trace import SPLITS, Trace, TraceError, source_key

# (module, name) pairs an array pickle may name, across NumPy 1.x / 2.x layouts
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol 5 arrays
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes in protocol 0-2 pickles
    }
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only `ALLOWED_GLOBALS`; anything else is refused."""

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refused global {module}.{name}: only NumPy arrays in a plain dict are accepted"
        )

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused persistent id: not a plain dict of arrays")


def _protocol0(path) -> bool:
    """Whether a text file starts as a protocol-0 pickle of a dict ("(dp0" and the like)."""
    with open(path, "rb") as f:
        return f.read(2) in (b"(d", b"}q", b"(l", b"}.")


def load_restricted_pickle(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a pickle holding a dict of str -> ndarray, without running foreign code."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TraceError(f"{path}: no such pickle file")
    kind = file_kind(path) if os.path.isfile(path) else "pickle"
    if kind in ("npz", "npy", "gzip", "empty") or (
        kind in ("text", "binary") and not _protocol0(path)
    ):
        hint = ""
        if kind == "npz":
            hint = ": a .npz trace needs no conversion, pass its folder as --traffic-dir"
        raise TraceError(
            f"{path}: convert-trace reads the reference's pickled traces; this is "
            f"{KIND_WORDS[kind]}{hint}"
        )
    try:
        with open(path, "rb") as f:
            obj = RestrictedUnpickler(f).load()
    except pickle.UnpicklingError as e:
        raise TraceError(f"{path}: {e}") from e
    except Exception as e:  # noqa: BLE001 - truncated or not a pickle at all
        raise TraceError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e
    if type(obj) is not dict:
        raise TraceError(f"{path}: expected a dict of arrays, got {type(obj).__name__}")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TraceError(f"{path}: expected string keys, got {key!r}")
        if type(value) is not np.ndarray:
            raise TraceError(f"{path} [{key}]: expected a NumPy array, got {type(value).__name__}")
    return obj


def convert_pickle_trace(
    src: str | os.PathLike, dst: str | os.PathLike, window: int = 200
) -> Trace:
    """Read the reference's pickle `src`, validate it, write `dst` (.npz); returns the trace."""
    arrays = load_restricted_pickle(src)
    trace = Trace.from_arrays(arrays, window, os.fspath(src))
    # keep the reference's own previous-window counts (others read them, e.g. the MDP)
    sources = {s: arrays[source_key(s)] for s in SPLITS if source_key(s) in arrays}
    trace.save(dst, sources)
    return trace
