"""Named points where the kill matrix (`tests/faults/kill_matrix.py`) kills a run.

Set ``DIFSCHED_KILL_AT=POINT[:N]`` and the N-th time (default 1) the process
reaches ``crash_point(POINT)`` it sends itself SIGKILL: no cleanup, no flush,
as a cluster's OOM killer or a pulled plug would. Unset (always, outside the
fault tests) a point costs one environment lookup.

``kill_during(POINT, folder)`` around a write kills the process *while* the
write is under way: a watcher thread waits for the first temporary entry
(name containing ``tmp``) to appear in `folder` with something in it, then
kills. Should the write finish first, the kill comes right after it.

``DIFSCHED_KILL_AT=xla_compile:N`` needs no point in the code: `arm_compile_kill`
(called by the CLI at start) watches the main thread and kills while it is inside
its N-th XLA compile.

``DIFSCHED_KILL_SIGNAL=INT`` or ``TERM`` sends that signal instead of SIGKILL, as
Ctrl-C or a scheduler's stop would; the command must then end by itself, in one
line, with exit 130 or 143 (`difsched_jax.interrupts`).
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


SIGNAL_VAR = "DIFSCHED_KILL_SIGNAL"
COMPILE_POINT = "xla_compile"
_COMPILE_FRAME = "backend_compile"  # jax._src.compiler.backend_compile_and_load


def _signal() -> signal.Signals:
    return signal.Signals["SIG" + os.environ.get(SIGNAL_VAR, "KILL").upper()]


def _kill(how: str) -> None:
    sig = _signal()
    verb = "killed" if sig == signal.SIGKILL else f"sent {sig.name}"
    print(f"difsched fault: {verb} {how}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), sig)
    time.sleep(60)  # stop here (any thread): the signal's handling ends the process


def _in_compile(thread_id: int) -> bool:
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code.co_name.startswith(_COMPILE_FRAME):
            return True
        frame = frame.f_back
    return False


def arm_compile_kill() -> None:
    """With DIFSCHED_KILL_AT=xla_compile:N, kill while the main thread is inside its N-th
    XLA compile (a compile taken from JAX's persistent cache does not count)."""
    target = os.environ.get(ENV_VAR, "")
    point, _, nth = target.partition(":")
    if point != COMPILE_POINT:
        return
    main_id = threading.main_thread().ident

    def watch():
        seen, inside = 0, False
        while True:
            now = _in_compile(main_id)
            if now and not inside:
                seen += 1
                if seen == int(nth or 1):
                    time.sleep(0.05)  # well inside it
                    state = "inside" if _in_compile(main_id) else "right after"
                    _kill(f"{state} XLA compile {seen}")
            inside = now
            time.sleep(0.001)

    threading.Thread(target=watch, daemon=True, name="fault-compile").start()


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
