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


def test_the_dql_headline_is_the_default_agent_then_the_labelled_mlp():
    suite = bench.load_suite()
    result = {
        "updates_per_s": {"8": 30.0},
        "decisions_per_s_batch256": {"8": 400.0},
        "default_agent": {
            "8": {"default": {"updates_per_s": 250.0, "decisions_per_s_batch256": 9000.0,
                              "decisions_per_s_single": 300.0},
                  "argmax_agent": {"updates_per_s": 170.0}},
        },
    }  # fmt: skip
    rows = suite.headline_rows({"dql_speed": result})
    names = [r["what"] for r in rows]
    assert names[0] == "Diffusion-QL default agent updates/s, state dim 8"
    assert rows[0]["ours"] == 250.0 and rows[0]["ratio"] == 250.0 / 17.8
    assert names[3] == "Diffusion-QL SPEC §5 MLP agent updates/s, state dim 8"
    assert len(rows) == 5
