"""The public face: every name in every `__all__` resolves, and `import difsched_jax`
stays cheap (the top-level and the agents/train/evaluate names are imported lazily)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import difsched_jax

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(difsched_jax.__path__, "difsched_jax.")
    if not m.name.endswith("__main__")  # `python -m difsched_jax.cli` runs the command
)
PACKAGES = ["difsched_jax"] + sorted(
    m.name for m in pkgutil.walk_packages(difsched_jax.__path__, "difsched_jax.") if m.ispkg
)


@pytest.mark.parametrize("name", ["difsched_jax", *MODULES])
def test_every_name_in_all_resolves(name):
    module = importlib.import_module(name)
    public = getattr(module, "__all__", None)
    if public is None:
        assert name not in PACKAGES, f"{name} exports nothing (no __all__)"
        return
    assert len(set(public)) == len(public), f"{name}.__all__ repeats a name"
    missing = [n for n in public if getattr(module, n, None) is None]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    assert set(public) <= set(dir(module))


def test_top_level_names_are_the_subpackages_objects():
    from difsched_jax import agents, env, evaluate, train
    from difsched_jax.agents import heuristics
    from difsched_jax.train import dql, drl

    assert difsched_jax.make_env is env.make_env is env.build.make_env
    assert difsched_jax.equal_share is agents.equal_share is heuristics.equal_share
    assert difsched_jax.train_dql is train.train_dql is dql.train
    assert difsched_jax.train_drl is train.train_drl is drl.train
    assert train.DRLRunConfig is drl.RunConfig
    assert difsched_jax.compare_policies is evaluate.compare_policies
    assert difsched_jax.get_env_config(0).num_users == 8
    with pytest.raises(AttributeError, match="no attribute 'bogus'"):
        difsched_jax.bogus  # noqa: B018


def test_import_is_cheap():
    """`import difsched_jax` loads no JAX, matplotlib or subpackage."""
    code = (
        "import sys, difsched_jax; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jax', 'flax', 'matplotlib') or m.startswith('difsched_jax.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['difsched_jax._lazy']"
