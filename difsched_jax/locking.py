"""One writer per output folder: an exclusive, non-blocking lock held while a
command writes there, so a second process aimed at the same folder stops at
once with a clear error instead of interleaving its files with the first's.

The lock is `flock` on the folder itself (no lock file is left behind; the
kernel drops it when the holder exits, even on kill -9). It holds between
processes of one machine; on network file systems `flock` may not reach
other hosts, so two hosts must still be given different folders.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager


class FolderBusy(ValueError):
    """Another process holds the folder."""


def _missing_levels(path: str) -> list[str]:
    """The folders `os.makedirs(path)` would create, outermost first."""
    levels = []
    while path and not os.path.exists(path):
        levels.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return levels[::-1]


def folder_in_use(path: str | os.PathLike) -> bool:
    """Whether a live difsched process holds `path`'s lock (it is writing there now)."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@contextmanager
def hold_folder(path: str | os.PathLike) -> Iterator[str]:
    """Create `path` if needed and hold its lock for the block; raises FolderBusy
    at once if another process holds it. Folders created here are removed
    again on the way out if they are still empty (a failed start leaves
    nothing behind)."""
    path = os.path.abspath(os.fspath(path))
    created = _missing_levels(path)
    os.makedirs(path, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)  # the holder owns the folder: leave it as it is
        raise FolderBusy(
            f"{path} is in use by another running difsched process (it holds the "
            "folder's lock): wait for it to finish, or choose another --out"
        ) from None
    try:
        yield path
    finally:
        for level in reversed(created):  # still holding the lock: no one else is inside
            try:
                os.rmdir(level)  # only if empty
            except OSError:
                break
        os.close(fd)  # releases the lock
