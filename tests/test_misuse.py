"""The everyday-misuse cases of tests/faults/misuse.py (each a fresh process): every
one ends with its exit status, one line naming the flag, file or policy, and no
traceback."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "faults"))
import misuse  # noqa: E402


@pytest.mark.slow
def test_every_misuse_case_is_clean(tmp_path):
    done = [misuse.run_case(c, os.path.dirname(os.path.dirname(__file__)))
            for c in misuse.cases(str(tmp_path))]  # fmt: skip
    failed = [(c.name, c.exit, c.line) for c in done if not c.passed]
    assert not failed, failed
    assert len(done) >= 14


def test_a_case_that_is_not_clean_fails():
    case = misuse.Case("x", ["evaluate"], 2, "named")
    case.exit, case.lines, case.line = 2, 2, "difsched evaluate: error: named"
    assert not case.passed  # two lines
    case.lines, case.tracebacks = 1, 1
    assert not case.passed  # a traceback
    case.tracebacks = 0
    assert case.passed
    case.exit = -11
    assert not case.passed  # a crash
