"""`difsched bench` runs benchmarks/suite.py from the repository: the CLI finds it, and
every script it names is in benchmarks/."""

from __future__ import annotations

from difsched_jax.cli import bench


def test_the_suite_is_found_beside_its_scripts():
    suite = bench.load_suite()
    folder = suite.benchmarks_dir()
    assert folder == bench.SUITE.parent and folder.name == "benchmarks"
    missing = [name for name in suite.SCRIPTS if not (folder / name).is_file()]
    assert not missing, f"suite.SCRIPTS names scripts benchmarks/ lacks: {missing}"
    assert set(suite.TAKES_TRAFFIC_DIR) <= set(suite.SCRIPTS)
