"""Ctrl-C and SIGTERM end any command in one line with exit 130/143 (the whole
matrix of commands and moments is tests/faults/kill_matrix.py --signals INT,TERM)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from difsched_jax import interrupts


def _difsched(argv, **env):
    return subprocess.run(
        [sys.executable, "-m", "difsched_jax.cli", *argv],
        env={**os.environ, "JAX_ENABLE_COMPILATION_CACHE": "false", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_a_signal_inside_a_compile_ends_evaluate_in_one_line(tmp_path, sig):
    json_path = tmp_path / "e.json"
    argv = ["evaluate", "--policy", "equal", "--slices", "2", "--windows", "4",
            "--json", str(json_path)]  # fmt: skip
    proc = _difsched(argv, DIFSCHED_KILL_AT="xla_compile:1", DIFSCHED_KILL_SIGNAL=sig)
    assert proc.returncode == 128 + signal.Signals["SIG" + sig], proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    # the fault fires 50 ms into the compile: "inside" it, or "right after" a fast one
    assert re.match(f"difsched fault: sent SIG{sig} (inside|right after) XLA compile 1", lines[0]), lines
    assert lines[1:] == [
        f"difsched evaluate: interrupted (SIG{sig}): outputs are written whole, so each is "
        "complete or absent; run the same command again"
    ]
    assert "Traceback" not in proc.stderr and not os.listdir(tmp_path)


def test_the_block_restores_the_signal_state():
    before = signal.getsignal(signal.SIGINT)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with interrupts.exit_on_signal(lambda: ("difsched x", "note")):
        assert signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
    assert interrupts.exit_code(signal.SIGINT) == 130
    assert interrupts.exit_code(signal.SIGTERM) == 143


def test_outside_the_main_thread_the_block_changes_nothing():
    seen = []

    def work():
        with interrupts.exit_on_signal(lambda: ("difsched x", "note")):
            seen.append(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [False]


def test_without_sigtimedwait_only_the_handler_is_installed(monkeypatch):
    monkeypatch.setattr(interrupts, "WATCHER_WORKS", False)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with interrupts.exit_on_signal(lambda: ("difsched x", "note")):
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask  # nothing blocked
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
