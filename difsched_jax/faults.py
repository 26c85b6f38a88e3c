"""Named points where the kill matrix (`tests/faults/kill_matrix.py`) kills a run.

Set ``DIFSCHED_KILL_AT=POINT[:N]`` and the N-th time (default 1) the process
reaches ``crash_point(POINT)`` it sends itself SIGKILL: no cleanup, no flush,
as a cluster's OOM killer or a pulled plug would. Unset (always, outside the
fault tests) a point costs one environment lookup.

``kill_during(POINT, folder)`` around a write kills the process *while* the
write is under way: a watcher thread waits for the first temporary entry
(name containing ``tmp``) to appear in `folder` with something in it, then
kills. Should the write finish first, the kill comes right after it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

ENV_VAR = "DIFSCHED_KILL_AT"
_reached: dict[str, int] = {}


def _armed(name: str) -> bool:
    """Whether this is the N-th arrival at `name` that DIFSCHED_KILL_AT asks for."""
    target = os.environ.get(ENV_VAR)
    if not target:
        return False
    point, _, nth = target.partition(":")
    if point != name:
        return False
    _reached[name] = _reached.get(name, 0) + 1
    return _reached[name] == int(nth or 1)


def _kill(how: str) -> None:
    print(f"difsched fault: killed {how}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point(name: str) -> None:
    if _armed(name):
        _kill(f"at {name}")


def _has_partial_write(folder: str) -> bool:
    for root, dirs, files in os.walk(folder):
        for entry in dirs + files:
            path = os.path.join(root, entry)
            if "tmp" in entry and (os.path.isfile(path) or os.listdir(path)):
                return True
    return False


@contextmanager
def kill_during(name: str, folder: str):
    if not _armed(name):
        yield
        return
    finished = threading.Event()

    def watch():
        while not finished.is_set():
            if os.path.isdir(folder) and _has_partial_write(folder):
                _kill(f"during {name} (a temporary file in {folder})")
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        watcher.join()
    _kill(f"after {name} (the write finished before a temporary file was seen)")
