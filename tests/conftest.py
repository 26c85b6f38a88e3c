"""Shared fixtures. Real traces live in ../shared/data (CI has it; users may not)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TRAFFIC_DIR = SHARED_DATA / "traffic"
REFERENCE_DIR = SHARED_DATA / "reference"


@pytest.fixture
def traffic_dir() -> Path:
    """Folder of the real reference traces; skips (with the reason) where ../shared is absent."""
    if not (TRAFFIC_DIR / "thumb_fr_window200.npz").exists():
        pytest.skip(
            f"real traces not found at {TRAFFIC_DIR} (../shared/data is absent on this machine)"
        )
    return TRAFFIC_DIR


@pytest.fixture
def reference_dir() -> Path:
    if not REFERENCE_DIR.exists():
        pytest.skip(f"reference files not found at {REFERENCE_DIR} (../shared/data is absent)")
    return REFERENCE_DIR


os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module. XLA's CPU backend maps
    a few memory regions per program, and one process compiling every test's
    programs passes the kernel's limit (vm.max_map_count, often 65,530) and
    segfaults inside a compile."""
    yield
    import sys

    if "jax" in sys.modules:
        import gc

        sys.modules["jax"].clear_caches()
        gc.collect()
