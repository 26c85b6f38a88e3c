"""The README's Python example runs as printed, and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text()
    section = text.split("## In Python", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


@pytest.mark.slow
def test_the_python_example_runs():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_example(), "README.md", "exec"), {})
    first, second = out.getvalue().splitlines()
    assert first.startswith("(4096, 8) ") and 0.2 < float(first.split()[-1]) < 0.5
    assert second.startswith("(100, 256) ") and 0.2 < float(second.split()[-1]) < 0.5
