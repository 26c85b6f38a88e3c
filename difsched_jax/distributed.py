"""Several processes (hosts) working on one job: joining, waiting, and failing clearly.

`jax.distributed` runs a coordination service in process 0 that checks every
process's heartbeat. When a process dies, JAX stops the others itself, with a
C++ abort: at once when the coordinator (process 0) is gone, after at most
`heartbeat_timeout` seconds when another process is. A process that cannot
join within `init_timeout` seconds is aborted the same way. None of this can be
caught in Python, so `run_supervised` does the work in a forked child and turns
such an end into one clear error and exit code `EXIT_HOST_LOST`.

Only `difsched gen-dataset --distributed` uses this: training and evaluation
run on one host.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

EXIT_HOST_LOST = 3  # a process of the run died, hung or never joined
WAIT_TIMEOUT_S = 24 * 3600  # the longest one process waits at a barrier for a live peer
_JOINED = b"J"
_joined_fd: int | None = None  # set in a supervised child: tells the parent it joined


class HostError(RuntimeError):
    """The distributed run lost a process, or a barrier timed out."""


@dataclass(frozen=True)
class HostSetup:
    """How this process joins a run (None: detected by JAX, e.g. under SLURM)."""

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    heartbeat_timeout: int = 60  # s without a heartbeat before a process counts as dead
    init_timeout: int = 300  # s to wait for every process to join

    def __post_init__(self):
        for name in ("heartbeat_timeout", "init_timeout"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a whole number of seconds >= 1, got {v!r}")
        n, i = self.num_processes, self.process_id
        if n is not None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"num_processes must be an integer >= 1, got {n!r}")
        if i is not None and (not isinstance(i, int) or i < 0 or (n is not None and i >= n)):
            raise ValueError(f"process_id must be in 0..{(n or 1) - 1}, got {i!r}")
        if self.coordinator is not None:
            host, sep, port = self.coordinator.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"coordinator must be HOST:PORT, got {self.coordinator!r}")

    def who(self) -> str:
        if self.process_id is None or self.num_processes is None:
            return "this process"
        return f"process {self.process_id} of {self.num_processes}"


def initialize(setup: HostSetup) -> None:
    """`jax.distributed.initialize` with the setup's timeouts (before any device use)."""
    import jax

    jax.distributed.initialize(
        coordinator_address=setup.coordinator,
        num_processes=setup.num_processes,
        process_id=setup.process_id,
        initialization_timeout=setup.init_timeout,
        heartbeat_timeout_seconds=setup.heartbeat_timeout,
        shutdown_timeout_seconds=max(30, setup.heartbeat_timeout),
    )
    global _joined_fd
    if _joined_fd is not None:
        os.write(_joined_fd, _JOINED)
        os.close(_joined_fd)
        _joined_fd = None


def wait_for_all(name: str, timeout_s: float = WAIT_TIMEOUT_S) -> None:
    """Barrier: return once every process of the run got here (no-op on one process).
    A dead peer ends the wait within the heartbeat timeout (HostError or JAX's abort)."""
    from jax._src import distributed  # the client has no public accessor

    client = distributed.global_state.client
    if client is None:
        return
    try:
        client.wait_at_barrier(f"difsched:{name}", int(timeout_s * 1000))
    except Exception as e:  # noqa: BLE001 - JaxRuntimeError; reported with its reason
        reason = str(e).strip().splitlines()[0][:300]
        raise HostError(f"not every process reached '{name}': {reason}") from e


def _die_with_parent(parent: int) -> None:
    """Linux: the child gets SIGKILL when its supervisor dies (a killed host stays dead)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _child(work: Callable[[], int], command: str) -> None:
    code = 1
    try:
        code = work()
    except HostError as e:
        print(f"difsched {command}: error: {e}", file=sys.stderr)
        code = EXIT_HOST_LOST
    except ValueError as e:
        print(f"difsched {command}: error: {e}", file=sys.stderr)
        code = 2
    except BaseException:  # noqa: BLE001 - the child must never return into the caller
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # skip atexit: JAX's shutdown barrier would wait for a dead peer


def run_supervised(work: Callable[[], int], setup: HostSetup, command: str, lost: str) -> int:
    """Run `work()` (which calls `initialize(setup)` first) in a forked child and
    return its exit code. An abort by JAX's distributed service, or a HostError,
    gives EXIT_HOST_LOST and one error line ending with `lost` (what to do next)."""
    global _joined_fd
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _die_with_parent(parent)
        from difsched_jax.interrupts import WATCHER_WORKS, start_watcher

        if WATCHER_WORKS and signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []):
            start_watcher()  # the parent's watcher thread did not come along: Ctrl-C is ours
        _joined_fd = write_fd
        _child(work, command)
    os.close(write_fd)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the child too
    signal.signal(signal.SIGTERM, lambda s, _: os.kill(pid, s))
    try:
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    joined = os.read(read_fd, 1) == _JOINED
    os.close(read_fd)
    if code >= 0 and code != EXIT_HOST_LOST:
        return code
    if not joined:
        why = (f"could not join the run within {setup.init_timeout} s (coordinator "
               f"{setup.coordinator or 'auto-detected'}): start every process, same address")  # fmt: skip
    elif code == EXIT_HOST_LOST:
        why = "the run lost a process (see above)"
    elif code == -signal.SIGABRT:
        why = (f"JAX's distributed service aborted it (another process died or sent no "
               f"heartbeat for {setup.heartbeat_timeout} s, or the coordinator is gone)")  # fmt: skip
    else:
        why = f"killed by signal {signal.Signals(-code).name}"
    print(f"difsched {command}: error: {setup.who()} stopped: {why}. {lost}", file=sys.stderr)
    return EXIT_HOST_LOST if code in (EXIT_HOST_LOST, -signal.SIGABRT) else 128 - code
