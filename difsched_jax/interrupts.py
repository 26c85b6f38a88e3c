"""Ctrl-C (SIGINT) and SIGTERM end a command with one line and exit 130 or 143.

A Python `KeyboardInterrupt` arrives only when the main thread runs Python again,
so inside an XLA compile it waits, and unwinding a half-built JAX state ends in
long tracebacks or a segmentation fault at shutdown. Instead `exit_on_signal`
blocks both signals in the calling (main) thread, so that every thread started
afterwards (XLA's compiler and thread pools included) inherits the block, and a
watcher thread takes them with `sigtimedwait`. It prints one line (what was
saved, how to continue) and ends the process with `os._exit`, at once, whatever
the main thread is doing. That is as abrupt as kill -9, which every command
already survives: outputs are written atomically, runs resume from their last
checkpoint, and the folder lock (`flock`) goes with the process. A signal that
reaches a thread started earlier (possible only when a program calls `main()`
in a process that already ran JAX) goes through the Python handler installed
here, which does the same once the main thread runs; so does every signal on a
system without `sigtimedwait` (macOS).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# macOS has no sigtimedwait: there only the Python handler runs (after a compile ends)
WATCHER_WORKS = hasattr(signal, "sigtimedwait") and hasattr(signal, "pthread_sigmask")
_POLL_S = 0.2  # how often the watcher looks whether the command has ended
# the live command's describe() -> (prog, what was saved and how to continue)
_live: list[Callable[[], tuple[str, str]]] = []


def exit_code(signum: int) -> int:
    return 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def _stop(signum: int) -> None:
    prog, note = "difsched", "nothing was saved"
    try:
        if _live:
            prog, note = _live[-1]()
    except Exception:  # noqa: BLE001 - the exit must happen whatever describe() does
        note = "see the output folder"
    fresh_line = "\n" if sys.stderr.isatty() else ""  # after a progress bar
    name = signal.Signals(signum).name
    os.write(2, f"{fresh_line}{prog}: interrupted ({name}): {note}\n".encode())
    os._exit(exit_code(signum))


def _watch(done: threading.Event) -> None:
    while not done.is_set():
        info = signal.sigtimedwait(SIGNALS, _POLL_S)
        if info is not None:
            _stop(info.si_signo)


def start_watcher() -> threading.Event:
    """The watcher thread of a process whose main thread already blocks SIGNALS
    (also a forked child: the block is inherited, the thread is not). Set the
    returned event to stop it."""
    done = threading.Event()
    threading.Thread(target=_watch, args=(done,), daemon=True, name="signals").start()
    return done


@contextmanager
def exit_on_signal(describe: Callable[[], tuple[str, str]]) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM print ``PROG: interrupted (SIGINT): NOTE`` on
    stderr and exit 130/143 at once. `describe()` is called then and gives (PROG, NOTE):
    what was saved and the command that continues. Only in the main thread; elsewhere
    the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, lambda signum, _frame: _stop(signum))
    watched = WATCHER_WORKS
    if watched:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    _live.append(describe)
    done = start_watcher() if watched else threading.Event()
    try:
        yield
    finally:
        done.set()
        _live.pop()
        if watched:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in previous.items():
            signal.signal(s, handler)
