"""Policy names the CLI and the pipeline understand -> (act, policy_params, obs mode).

A name is either a built-in (``equal``, ``random``, ...) or ``kind:PATH``
(e.g. ``mdp:DIR``) for a policy loaded from disk. Builders get the config and the
`EvalContext` (the trace, split and observation evaluated: the oracle-bayes
yardsticks count their conditional law there).

Yardsticks (SPEC §1 and README "Results"):
- ``oracle``: the integer DP on the observed counts (predicted or perfect observation);
- ``oracle-perfect``: the same on the actual counts (a hard floor);
- ``oracle-ceil``: the optimum under the `reference` allocation, which knows about ceil;
- ``oracle-bayes``: the DP on the exact expected loss weights given the observation, the
  conditional law counted on the evaluated split (an in-sample floor for any policy that
  sees only the current observation, not a deployable policy);
- ``oracle-calibrated``: the same with the law counted on the train split (deployable).
- ``worst-user-best`` (``-perfect``): the `worst_user` objective's yardstick, the best
  whole-block allocation found for the exact expected worst-user loss of the observed
  (actual) counts; ``water-filling`` equalises expected per-user lost packets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from difsched_jax.agents import heuristics
from difsched_jax.agents.bayes import MIN_ROW_SAMPLES
from difsched_jax.config import SliceConfig
from difsched_jax.traffic.trace import Trace


@dataclass(frozen=True)
class EvalContext:
    """Where policies are evaluated: what the oracle-bayes yardsticks need."""

    trace: Trace | None = None  # None: policies that need the trace are refused
    split: str = "test"
    obs: str = "predicted"


@dataclass
class ResolvedPolicy:
    name: str
    act: Callable
    params: object
    obs: str | None = None  # force an observation mode (oracle-perfect); None: caller's


def _no_arg(kind: str, arg: str | None) -> None:
    if arg:
        raise ValueError(f"policy {kind!r} takes no ':' argument, got {kind}:{arg}")


Builder = Callable[[SliceConfig, "str | None", EvalContext], ResolvedPolicy]


def _heuristic(kind: str, act: Callable) -> Builder:
    def build(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
        _no_arg(kind, arg)
        return ResolvedPolicy(kind, act, heuristics.heuristic_params(config.budget))

    return build


def _oracle_builder(kind: str, obs: str | None):
    """The exact myopic optimum on the config's channel pairs; ``oracle-perfect``
    forces perfect observation (a hard floor), ``oracle`` follows the caller's."""

    def build(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
        _no_arg(kind, arg)
        k, s = zip(*config.sigmoid_pairs)
        params = heuristics.oracle_params(config.budget, k, s)
        return ResolvedPolicy(kind, heuristics.oracle, params, obs=obs)

    return build


def _oracle_ceil(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
    _no_arg("oracle-ceil", arg)
    if config.allocation != "reference":
        raise ValueError(
            "policy 'oracle-ceil' is the optimum under the reference allocation (the channel "
            f"rounds fractions up); this evaluation runs under {config.allocation!r}: use "
            "--allocation reference, or 'oracle' for the whole-block optimum"
        )
    k, s = zip(*config.sigmoid_pairs)
    params = heuristics.oracle_ceil_params(config.budget, k, s)
    return ResolvedPolicy("oracle-ceil", heuristics.oracle_ceil, params)


def _bayes_builder(kind: str, law_split: str | None, min_samples: int):
    """The DP on expected loss weights; the law from `law_split` (None: the evaluated one)."""

    def build(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
        from difsched_jax.agents import bayes
        from difsched_jax.env import make_env
        from difsched_jax.env.traffic_models import observation_pairs

        _no_arg(kind, arg)
        if ctx.trace is None:
            raise ValueError(f"policy {kind!r} needs the evaluated trace (compare_policies)")
        spec, params = make_env(config, ctx.trace, law_split or ctx.split, ctx.obs)
        observed, scored = observation_pairs(spec.traffic, params)
        law = bayes.conditional_law(observed, scored, config.window, min_samples)
        k, s = zip(*config.sigmoid_pairs)
        gain = heuristics.oracle_params(config.budget, k, s).gain
        return ResolvedPolicy(kind, bayes.oracle_bayes, bayes.bayes_params(gain, law))

    return build


def _worst_user_builder(kind: str, obs: str | None, act_name: str):
    """The worst_user objective's policies: its yardstick (`agents.worst_user.best_policy`,
    best found; ``-perfect`` on the actual counts) and the water-filling heuristic."""

    def build(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
        from difsched_jax.agents import worst_user

        _no_arg(kind, arg)
        k, s = zip(*config.sigmoid_pairs)
        params = worst_user.worst_user_params(config.budget, k, s, config.window)
        return ResolvedPolicy(kind, getattr(worst_user, act_name), params, obs=obs)

    return build


def _mdp(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
    """``mdp:DIR``: the sub-agents of the config's first sub-agent set, loaded from
    DIR (mdp_subagent{i}.npz from `difsched build-agent`, or the reference's
    seed_mdp_subagent{i}.npz). Nothing is solved on the fly."""
    from difsched_jax.agents import mdp

    if not arg:
        raise ValueError("policy 'mdp' needs a folder of solved sub-agents: mdp:DIR")
    agents = mdp.load_subagents(arg, config.sub_agents[0] if config.sub_agents else ())
    return ResolvedPolicy("mdp", mdp.mdp_act, mdp.slice_policy_params(config, agents))


def _drl(kind: str):
    """``ppo:RUN`` / ``sac:RUN``: the best actor of a `difsched train-drl` run,
    acting with its mean action (deterministic)."""

    def build(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
        from difsched_jax.train.drl import load_policy

        if not arg:
            raise ValueError(f"policy {kind!r} needs a train-drl run folder: {kind}:RUN")
        act, params, run = load_policy(arg)
        if run.algo != kind:
            raise ValueError(f"{arg} is a {run.algo} run, not {kind}: use {run.algo}:{arg}")
        trained = run.env()
        if (trained.num_users, trained.budget) != (config.num_users, config.budget):
            raise ValueError(
                f"{arg} was trained for {trained.num_users} users and B = {trained.budget} "
                f"(env config {run.env_config}), not {config.num_users} users and B = {config.budget}"
            )
        _check_allocation(arg, trained.allocation, config.allocation)
        return ResolvedPolicy(kind, act, params)

    return build


DQL_MODES = ("actor", "ranked", "argmax")


def split_dql_arg(arg: str) -> tuple[str, str, str, int | None]:
    """``RUN[@best|@latest][+actor|+ranked|+argmax][/K]`` → (RUN, slot or "", mode,
    K or None): K overrides the DDIM steps the actor samples with."""
    head, plus, mode = arg.rpartition("+")
    mode, slash, steps = mode.partition("/")
    if not plus or mode not in DQL_MODES or (slash and not steps.isdigit()):
        return (*arg.partition("@")[::2], "default", None)
    run_dir, _, slot = head.partition("@")
    return run_dir, slot, mode, int(steps) if slash else None


def _dql(config: SliceConfig, arg: str | None, ctx: EvalContext) -> ResolvedPolicy:
    """``dql:RUN`` (best checkpoint) or ``dql:RUN@latest``: a `difsched train` run,
    greedy over its eval_candidates diffusion samples ranked by its critic. A suffix
    picks how it decides: ``+actor`` its actor alone (one sample, no ranking),
    ``+ranked`` actor samples ranked by the critic without its argmax, ``+argmax`` the
    critic's exact best allocation alone; ``/K`` after it samples in K DDIM steps."""
    from difsched_jax.train.dql import load_policy

    run_dir, slot, mode, steps = split_dql_arg(arg or "")
    if not run_dir:
        raise ValueError("policy 'dql' needs a `difsched train` run folder: dql:RUN[@latest]")
    act, params, run = load_policy(run_dir, slot or "best", mode)
    if steps is not None:
        if not 1 <= steps <= params.config.num_steps:
            raise ValueError(
                f"dql:{arg}: DDIM steps must be in 1..{params.config.num_steps}, got {steps}"
            )
        params = params.replace(config=params.config.replace(sample_steps=steps))
    trained = run.env_config
    if (trained.num_users, trained.budget, trained.window) != (
        config.num_users,
        config.budget,
        config.window,
    ):
        raise ValueError(
            f"{run_dir} was trained for {trained.num_users} users, B = {trained.budget} "
            f"(experiment {run.exp_config}), not {config.num_users} users, B = {config.budget}"
        )
    _check_allocation(run_dir, trained.allocation, config.allocation)
    return ResolvedPolicy("dql", act, params)


def _check_allocation(run_dir: str, trained: str, evaluated: str) -> None:
    """A trained policy is evaluated under the allocation semantics it learnt under."""
    if trained != evaluated:
        raise ValueError(
            f"{run_dir} was trained under the {trained!r} allocation semantics; this "
            f"evaluation runs under {evaluated!r}: pass --allocation {trained}, or train "
            f"again under {evaluated!r}"
        )


# name -> builder(config, argument after ':' or None)
BUILDERS: dict[str, Builder] = {
    "equal": _heuristic("equal", heuristics.equal_share),
    "proportional": _heuristic("proportional", heuristics.proportional),
    "random": _heuristic("random", heuristics.random_policy),
    "oracle": _oracle_builder("oracle", None),
    "oracle-perfect": _oracle_builder("oracle-perfect", "perfect"),
    "oracle-ceil": _oracle_ceil,
    "oracle-bayes": _bayes_builder("oracle-bayes", None, 0),
    "oracle-calibrated": _bayes_builder("oracle-calibrated", "train", MIN_ROW_SAMPLES),
    "worst-user-best": _worst_user_builder("worst-user-best", None, "best_policy"),
    "worst-user-best-perfect": _worst_user_builder(
        "worst-user-best-perfect", "perfect", "best_policy"
    ),
    "water-filling": _worst_user_builder("water-filling", None, "water_filling_policy"),
    "mdp": _mdp,
    "dql": _dql,
    "ppo": _drl("ppo"),
    "sac": _drl("sac"),
}


# kinds that load from a folder -> what the folder is
FOLDER_KINDS = {
    "mdp": "a folder of solved sub-agents: mdp:DIR",
    "dql": "a `difsched train` run folder: dql:RUN[@latest][+actor|+ranked|+argmax][/K]",
    "ppo": "a train-drl run folder: ppo:RUN",
    "sac": "a train-drl run folder: sac:RUN",
}


def check_name(name: str) -> None:
    """What can be told of a name without loading anything: a known kind, a ':'
    argument exactly where one is needed, and that its folder exists (the CLI
    checks this before any work; `resolve_policy` checks the folder's contents)."""
    kind, _, arg = name.strip().partition(":")
    if kind not in BUILDERS:
        raise ValueError(f"unknown policy {name!r}; known: {sorted(BUILDERS)} (some take ':PATH')")
    if kind not in FOLDER_KINDS:
        _no_arg(kind, arg)
        return
    folder = split_dql_arg(arg)[0] if kind == "dql" else arg
    if not folder:
        raise ValueError(f"policy {kind!r} needs {FOLDER_KINDS[kind]}")
    if not os.path.isdir(folder):
        what = "no such folder" if not os.path.exists(folder) else "not a folder"
        raise ValueError(f"policy {name!r}: {folder}: {what} (expected {FOLDER_KINDS[kind]})")


def resolve_policy(
    name: str, config: SliceConfig, context: EvalContext | None = None
) -> ResolvedPolicy:
    kind, _, arg = name.strip().partition(":")
    if kind not in BUILDERS:
        raise ValueError(f"unknown policy {name!r}; known: {sorted(BUILDERS)} (some take ':PATH')")
    resolved = BUILDERS[kind](config, arg or None, context or EvalContext())
    resolved.name = name
    return resolved
