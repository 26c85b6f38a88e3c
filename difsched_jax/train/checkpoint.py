"""Best + latest Orbax checkpoints of any pytree, kept side by side.

    DIR/latest/<step>/   the most recent state (to resume)
    DIR/best/<step>/     the state that scored best so far (to deploy)

Each slot is its own CheckpointManager keeping one step, so saving a best
never deletes the latest (Orbax's own best-only retention can) and vice
versa. Every checkpoint carries a JSON ``meta`` dict next to the arrays.
Typed PRNG keys are stored as their raw key data and re-wrapped on restore;
restored arrays are uncommitted, like fresh ones (no recompiles after resume).
Saving is synchronous: a checkpoint is complete when `save` returns.

A checkpoint's meta also holds the SHA-256 of its arrays and meta; `restore`
recomputes it, so bytes flipped or fields edited on disk are refused with an error naming the checkpoint
instead of being trained or evaluated on. A kill during a save leaves Orbax's
temporary folder, which is removed when the slot is next opened.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import json
import logging
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from difsched_jax.faults import kill_during

SLOTS = ("latest", "best")
DIGEST_KEY = "_sha256"  # in a checkpoint's meta: the digest of its arrays


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored, or whose arrays do not match their digest."""


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_saveable(tree):
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _from_saveable(tree, like):
    # Orbax hands back arrays committed to a device, and a jitted function called
    # with committed arguments compiles anew: make them plain (uncommitted) again.
    def restore_leaf(x, ref):
        x = jnp.asarray(np.asarray(x))
        return jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref)) if _is_key(ref) else x

    return jax.tree.map(restore_leaf, tree, like)


def tree_digest(tree, meta: dict) -> str:
    """SHA-256 over `meta` (canonical JSON) and every leaf's path, dtype, shape and
    bytes (saveable form)."""
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        a = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{jax.tree_util.keystr(path)}|{a.dtype}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _check_space(folder: str, tree, step: int) -> None:
    """Refuse a save that cannot fit before Orbax starts it: its threads report a full
    disk only as pages of log tracebacks."""
    arrays = sum(getattr(x, "nbytes", 0) for x in jax.tree.leaves(tree))
    need = int(1.1 * arrays) + (256 << 10)  # and Orbax's metadata files
    free = shutil.disk_usage(folder if os.path.isdir(folder) else os.path.dirname(folder)).free
    if free < need:
        raise OSError(
            errno.ENOSPC,
            f"{folder}: checkpoint {step} needs about {need / 2**20:.1f} MiB, the disk has "
            f"{free / 2**20:.1f} MiB free; free space, then rerun with --resume",
        )


def _drop_partial(folder: str) -> None:
    """Remove Orbax's temporary folders of a failed save, and the tracebacks its
    abandoned write tasks would print when collected."""
    logger = logging.getLogger("asyncio")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        gc.collect()
    finally:
        logger.setLevel(level)
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if "tmp" in name:
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


class BestLatest:
    """Save/restore a pytree in the "latest" and "best" slots under `directory`."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            max_to_keep=1, create=True, enable_async_checkpointing=False,
            cleanup_tmp_directories=True,
        )  # fmt: skip
        self._managers = {
            slot: ocp.CheckpointManager(os.path.join(self.directory, slot), options=options)
            for slot in SLOTS
        }

    def _manager(self, slot: str) -> ocp.CheckpointManager:
        if slot not in SLOTS:
            raise ValueError(f"checkpoint slot must be one of {SLOTS}, got {slot!r}")
        return self._managers[slot]

    def step(self, slot: str) -> int | None:
        """Step of the checkpoint in `slot`, or None when there is none."""
        return self._manager(slot).latest_step()

    def save(self, slot: str, step: int, tree, meta: dict | None = None) -> None:
        mgr = self._manager(slot)
        saveable = _to_saveable(tree)
        meta = dict(meta or {})
        meta[DIGEST_KEY] = tree_digest(saveable, meta)
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(saveable), meta=ocp.args.JsonSave(meta)
        )
        if int(step) in mgr.all_steps():  # a resumed run redoing the step it was killed in
            mgr.delete(int(step))
        folder = os.path.join(self.directory, slot)
        _check_space(folder, saveable, step)
        try:
            with kill_during("ckpt_write", folder):
                mgr.save(int(step), args=args, force=True)
                mgr.wait_until_finished()
        except Exception as e:  # noqa: BLE001 - TensorStore reports a full disk as ValueError
            _drop_partial(folder)
            raise OSError(
                getattr(e, "errno", None) or errno.EIO,
                f"{folder}: writing checkpoint {step} failed, nothing of it kept (a full disk? "
                f"{type(e).__name__}: {str(e)[:160]}); free space, then rerun with --resume",
            ) from None

    def restore(self, slot: str, like) -> tuple[object, dict] | None:
        """(tree, meta) from `slot`, shaped like `like` (a pytree of arrays or
        ShapeDtypeStructs with the saved structure); None when the slot is empty."""
        mgr = self._manager(slot)
        step = mgr.latest_step()
        if step is None:
            return None
        where = os.path.join(self.directory, slot, str(step))
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_saveable(like))
        args = ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
        )
        try:
            restored = mgr.restore(step, args=args)
        except Exception as e:  # noqa: BLE001 - Orbax and TensorStore raise many kinds
            raise CheckpointError(
                f"{where}: the checkpoint cannot be restored, it is damaged or not this "
                f"run's ({type(e).__name__}: {str(e)[:200]})"
            ) from e
        meta = dict(restored.meta or {})
        expected = meta.pop(DIGEST_KEY, None)  # checkpoints from before digests: none
        if expected is not None and tree_digest(restored.state, meta) != expected:
            raise CheckpointError(
                f"{where}: the checkpoint's arrays or meta data do not match the SHA-256 "
                "saved with them (the files were damaged or edited after they were written)"
            )
        return _from_saveable(restored.state, like), meta

    def close(self) -> None:
        for mgr in self._managers.values():
            mgr.close()
