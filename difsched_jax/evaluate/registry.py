"""Policy names the CLI and the pipeline understand -> (act, policy_params, obs mode).

A name is either a built-in (``equal``, ``random``, ...) or ``kind:PATH``
(e.g. ``mdp:DIR``) for a policy loaded from disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from difsched_jax.agents import heuristics
from difsched_jax.config import SliceConfig


@dataclass
class ResolvedPolicy:
    name: str
    act: Callable
    params: object
    obs: str | None = None  # force an observation mode (oracle-perfect); None: caller's


def _equal(config: SliceConfig, arg: str | None) -> ResolvedPolicy:
    return ResolvedPolicy(
        "equal", heuristics.equal_share, heuristics.heuristic_params(config.budget)
    )


def _random(config: SliceConfig, arg: str | None) -> ResolvedPolicy:
    return ResolvedPolicy(
        "random", heuristics.random_policy, heuristics.heuristic_params(config.budget)
    )


# name -> builder(config, argument after ':' or None)
BUILDERS: dict[str, Callable[[SliceConfig, str | None], ResolvedPolicy]] = {
    "equal": _equal,
    "random": _random,
}


def resolve_policy(name: str, config: SliceConfig) -> ResolvedPolicy:
    kind, _, arg = name.partition(":")
    if kind not in BUILDERS:
        raise ValueError(f"unknown policy {name!r}; known: {sorted(BUILDERS)} (some take ':PATH')")
    resolved = BUILDERS[kind](config, arg or None)
    resolved.name = name
    return resolved
