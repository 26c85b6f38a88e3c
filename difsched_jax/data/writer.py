"""A background thread that writes shards and keeps meta.json current.

The main thread computes chunk i+1 while this thread writes chunk i. The queue
is bounded, so at most a few chunks are ever held in memory. Order per shard:
shard file (atomic) -> meta.json lists it (atomic). A crash therefore leaves
either the previous state or a complete, listed shard, never a listed half one.
"""

from __future__ import annotations

import os
import queue
import threading

import numpy as np

from difsched_jax.data.storage import write_meta, write_shard
from difsched_jax.faults import crash_point


def shard_name(set_index: int, window_start: int) -> str:
    return f"shard-s{set_index:02d}-w{window_start:09d}.npz"


class ShardWriter:
    """Writes (entry, arrays) jobs in order and appends each entry to meta["shards"]."""

    def __init__(self, folder: str, meta: dict, max_pending: int = 2):
        self.folder = folder
        self.meta = meta
        self.error: BaseException | None = None
        self.bytes_written = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name="shard-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self.error is not None:
                continue  # drain: keep the main thread from blocking on a full queue
            entry, arrays = job
            try:
                info = write_shard(os.path.join(self.folder, entry["file"]), arrays)
                crash_point("shard_unlisted")  # written, not yet in meta.json
                self.meta["shards"].append({**entry, **info})
                self.bytes_written += info["bytes"]
                self.flush_meta()
            except BaseException as e:  # reported to the main thread by check()
                self.error = e

    def flush_meta(self) -> None:
        write_meta(self.folder, self.meta)

    def check(self) -> None:
        e = self.error
        if isinstance(e, OSError):  # a full disk, a lost mount: the system's refusal
            raise OSError(
                e.errno,
                f"{self.folder}: writing a shard failed ({e.strerror or e}); the dataset is "
                "incomplete: free space, then rerun with --resume",
            ) from e
        if e is not None:
            raise RuntimeError(f"writing a shard failed: {e}") from e

    def submit(self, entry: dict, arrays: dict[str, np.ndarray]) -> None:
        self.check()
        self._queue.put((entry, arrays))

    def close(self) -> None:
        """Finish every queued shard (also after an interrupt), then stop."""
        self._queue.put(None)
        self._thread.join()
