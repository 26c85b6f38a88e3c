"""Train the Diffusion-QL agent (SPEC §5): thin Python around jitted chunks.

Per episode: `updates_per_episode` updates in one jitted `lax.scan` (BC on an
offline batch, critic and Q-loss on a hybrid offline+online batch, offline
share falling linearly 1.0 → final_offline_share), then EAS exploration and
greedy rollouts in vectorised environments on the train split, whose
transitions (true next observations) go into the online buffer; every
`val_every` episodes the greedy policy is scored on the held-out validation
tail of the train split. A run folder holds

    config.json     DQLRunConfig (+ env config): rebuilds the agent
    metrics.jsonl   one row per episode (losses, rollout and validation losses, timing)
    ckpt/latest     agent, online buffer, env carries (resume continues exactly)
    ckpt/best       actor + critics of the lowest validation loss (what `dql:RUN` loads)
    curves.png      training curves
    summary.json    final figures (validation only: the test split is for `evaluate`)
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.agents.dql import (
    DQLAgent,
    candidate_sources,
    dql_policy,
    init_agent,
    replay_add,
    replay_init,
    replay_sample,
    update_many,
)
from difsched_jax.agents.dql.distill import distill_actor, teacher_labels
from difsched_jax.data import load_dataset
from difsched_jax.data.stream import OfflineStream
from difsched_jax.env import init_carry
from difsched_jax.faults import crash_point
from difsched_jax.train import run_folder
from difsched_jax.train.checkpoint import BestLatest
from difsched_jax.train.dql_config import DQLRunConfig, load_run_config, make_run_config
from difsched_jax.train.dql_envs import (
    ExploreParams,
    acting_params,
    baseline_losses,
    collect,
    explore_policy,
    mean_loss,
)
from difsched_jax.train.dql_report import plot_curves

__all__ = ["DQLRunConfig", "load_policy", "load_run_config", "make_run_config", "train"]

POLICY_SLOTS = ("best", "latest")
# how a loaded agent decides: the run's own acting; its actor alone (one sample, no
# ranking); `eval_candidates` actor samples ranked by the critic (no argmax); the
# critic's exact best allocation alone
ACTING_MODES = ("default", "actor", "ranked", "argmax")
RANKED_CANDIDATES = 10  # "+ranked": this many DDIM(η = 1) samples ranked by the critic


def offline_stream(run: DQLRunConfig) -> OfflineStream:
    """The dataset as a stream into a device buffer (checked against the experiment)."""
    ds = load_dataset(run.dataset)
    env = run.env_config
    if (ds.num_users, ds.budget, ds.window) != (env.num_users, env.budget, env.window):
        raise ValueError(
            f"{run.dataset}: {ds.num_users} users, B = {ds.budget}, L = {ds.window}; experiment "
            f"{run.exp_config} needs {env.num_users} users, B = {env.budget}, L = {env.window}"
        )
    check_same_allocation(run.dataset, ds.allocation, env.allocation)
    if ds.objective != "loss":
        raise ValueError(
            f"{run.dataset}: made under the {ds.objective!r} objective; `difsched train` "
            "trains Diffusion-QL on the 'loss' objective only so far (its critics and argmax "
            "are built for a sum over users): evaluate this objective's yardstick and "
            "heuristics with `difsched evaluate --objective`"
        )
    return OfflineStream(ds, run.offline_capacity, run.executed_action, seed=run.seed)


def check_same_allocation(dataset: str, made: str, wanted: str) -> None:
    """A dataset trains only under the allocation semantics it was made under."""
    if made != wanted:
        raise ValueError(
            f"{dataset}: made under the {made!r} allocation semantics, but this run trains "
            f"under {wanted!r}: pass --allocation {made}, or make the data again with "
            f"`difsched gen-dataset --allocation {wanted}`"
        )


def offline_rows_written(run: DQLRunConfig, stream: OfflineStream, episodes: int) -> int:
    """Stream rows written into the offline buffer before episode `episodes` (0-based)."""
    return stream.capacity + (0 if stream.fits else episodes * run.refresh_rows)


def _keys(run: DQLRunConfig):
    base = jax.random.key(run.seed)
    return {
        name: jax.random.fold_in(base, i)
        for i, name in enumerate(("init", "episode", "env", "val"))
    }


def _fresh_state(run: DQLRunConfig, spec, train_params) -> dict:
    keys = _keys(run)
    cfg = run.agent_config()
    k_e, k_g = jax.random.split(keys["env"])
    state = {
        "agent": init_agent(keys["init"], cfg),
        "online": replay_init(run.online_capacity, cfg.state_dim, cfg.action_dim),
        "explore": init_carry(k_e, train_params, spec, run.explore_slices),
    }
    if run.greedy_slices:
        state["greedy"] = init_carry(k_g, train_params, spec, run.greedy_slices)
    return state


def _best_tree(agent: DQLAgent) -> dict:
    return {"actor": agent.actor, "critic": agent.critic, "critic_target": agent.critic_target}


def _episode(run: DQLRunConfig, state: dict, offline, spec, train_params, episode: int):
    """One episode: updates, then exploration and greedy rollouts into the online buffer."""
    k_upd = jax.random.fold_in(_keys(run)["episode"], episode)  # rollouts use the carries' keys
    agent, m = update_many(
        state["agent"],
        offline,
        k_upd,
        run.updates_per_episode,
        state["online"],
        run.offline_share(episode),
    )
    row = {k: float(np.mean(np.asarray(v))) for k, v in m.items()}
    if not run.online_phase:
        row["explore_loss"] = float("nan")
        return {**state, "agent": agent}, {**row, "online_size": 0}
    explore = ExploreParams(
        policy=acting_params(agent, run.rank_critic, run.explore_candidates, "eas"),
        eta_low=jnp.float32(run.eta_low),
        eta_high=jnp.float32(run.eta_high),
    )
    carry, batch, loss = collect(
        explore_policy,
        explore,
        train_params,
        spec,
        state["explore"],
        run.explore_windows,
        run.executed_action,
    )
    online = replay_add(state["online"], batch)
    new = {**state, "agent": agent, "explore": carry}
    row["explore_loss"] = float(loss)
    if run.greedy_slices:
        greedy = acting_params(agent, run.rank_critic, run.eval_candidates)
        carry, batch, loss = collect(
            dql_policy,
            greedy,
            train_params,
            spec,
            state["greedy"],
            run.greedy_windows,
            run.executed_action,
        )
        online = replay_add(online, batch)
        new["greedy"] = carry
        row["greedy_loss"] = float(loss)
    new["online"] = online
    row["online_size"] = int(online.size)
    return new, row


def train(
    run: DQLRunConfig,
    out: str,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict:
    """Train (or continue) the run in folder `out`; returns the summary dict.
    `stop_after`: return after that many episodes of this call (an interruption)."""
    from tqdm.auto import tqdm

    env_cfg = run.env_config
    stream = offline_stream(run)  # a damaged dataset is refused before anything is written
    ckpt = run_folder.open_run(out, run, resume, load_run_config, env_cfg.to_dict())
    spec, train_params, val_params = run_folder.train_envs(env_cfg, run)
    state = _fresh_state(run, spec, train_params)
    best_val, best_episode, done = float("inf"), None, 0
    if resume and ckpt.step("latest") is not None:
        state, meta = ckpt.restore("latest", state)
        best_val, best_episode, done = meta["best_val_loss"], meta["best_episode"], meta["episodes"]
    offline = stream.buffer_after(offline_rows_written(run, stream, done))
    rows = run_folder.read_rows(out, "episode", done, every=True)
    k_val = _keys(run)["val"]
    baselines = baseline_losses(env_cfg, val_params, spec, k_val, run.val_slices, run.val_windows)

    bar = tqdm(total=run.episodes, initial=done, unit="ep", disable=not progress, desc="dql")
    stop = run.episodes if stop_after is None else min(run.episodes, done + stop_after)
    for episode in range(done, stop):
        t0 = time.perf_counter()
        if episode > done:  # new rows from disk (datasets larger than the buffer)
            written = offline_rows_written(run, stream, episode - 1)
            offline = stream.refresh(offline, written, run.refresh_rows)
        state, row = _episode(run, state, offline, spec, train_params, episode)
        row = {"episode": episode + 1, "offline_share": run.offline_share(episode), **row}
        if (episode + 1) % run.val_every == 0 or episode + 1 == run.episodes:
            if run.distill_updates:  # the critic decides until its choices are distilled
                pp = mode_params(state["agent"], run, "argmax")
                val = row["val_loss_argmax"] = mean_loss(
                    dql_policy, pp, val_params, spec, k_val, run.val_slices, run.val_windows
                )
            else:
                pp = mode_params(state["agent"], run)
                val = row["val_loss"] = mean_loss(
                    dql_policy, pp, val_params, spec, k_val, run.val_slices, run.val_windows
                )
                row.update(who_decides(run, state["agent"], offline, val_params, spec, k_val))
            if val < best_val:
                best_val, best_episode = val, episode + 1
                ckpt.save("best", episode + 1, _best_tree(state["agent"]), {"val_loss": val})
                crash_point("best_saved")
        row["best_val_loss"] = best_val if best_episode is not None else None
        row["seconds"] = time.perf_counter() - t0
        meta = {"episodes": episode + 1, "best_val_loss": best_val, "best_episode": best_episode}
        rows.append(row)
        run_folder.end_step(out, rows, ckpt, episode + 1, state, meta)
        bar.update(1)
        bar.set_postfix(
            critic=f"{row['critic_loss']:.3g}",
            bc=f"{row['bc_loss']:.3f}",
            explore=f"{row['explore_loss']:.3f}",
            val=f"{row.get('val_loss', float('nan')):.3f}",
        )
    bar.close()
    distilled = {}
    if run.distill_updates and len(rows) == run.episodes:
        distilled = distill_best(run, ckpt, state["agent"], offline, val_params, spec, k_val)
    ckpt.close()
    if rows:
        title = f"DQL, experiment {run.exp_config}, {'with' if run.bc else 'without'} BC"
        plot_curves(rows, os.path.join(out, "curves.png"), title, baselines)
    return run_folder.write_summary(
        out,
        {
            "exp_config": run.exp_config,
            "bc": run.bc,
            "seed": run.seed,
            "episodes_done": len(rows),
            "updates": int(state["agent"].step),
            "best_val_loss": best_val if best_episode is not None else None,
            "best_episode": best_episode,
            "final_val_loss": next(
                (r["val_loss"] for r in reversed(rows) if "val_loss" in r), None
            ),
            "val_baselines": baselines,
            **distilled,
            "train_seconds": sum(r["seconds"] for r in rows),
        },
    )


def mode_params(agent: DQLAgent, run: DQLRunConfig, mode: str = "default"):
    """Policy params of `agent` deciding as `ACTING_MODES` says."""
    if mode not in ACTING_MODES:
        raise ValueError(f"acting mode must be one of {ACTING_MODES}, got {mode!r}")
    if mode == "argmax":
        return acting_params(agent, run.rank_critic, 1, method="argmax")
    if mode == "actor":  # one deterministic sample (DDIM η = 0), no ranking
        return acting_params(agent, run.rank_critic, 1, eta=0.0, argmax=False)
    if mode == "ranked":
        return acting_params(agent, run.rank_critic, RANKED_CANDIDATES, argmax=False)
    return acting_params(agent, run.rank_critic, run.eval_candidates, eta=run.eval_eta)


def distill_best(run: DQLRunConfig, ckpt, agent: DQLAgent, offline, val_params, spec, key):
    """The distillation phase on the best checkpoint (`agents/dql/distill.py`); its actor
    replaces the best one. Done once: a rerun finds the distilled checkpoint and skips."""
    like = _best_tree(agent)
    tree, meta = ckpt.restore("best", like)
    if meta.get("distilled"):
        keys = ("distilled_val_loss", "distill_curve", "distill_states", "who_decides")
        keys += ("distill_seconds",)
        return {k: meta[k] for k in keys if k in meta}
    cfg = agent.config
    t0 = time.perf_counter()
    size = min(int(offline.size), run.distill_states)
    states = offline.data.obs[:size]
    labels = teacher_labels(tree["critic"], cfg, states)
    k_init, k_distill = jax.random.split(jax.random.fold_in(_keys(run)["init"], 1))
    # a fresh actor: the labels alone teach it (the offline phase's actor, trained on the
    # Q-loss, started 100x further from them, measured)
    fresh = init_agent(k_init, cfg).actor
    actor, curve = distill_actor(
        fresh, cfg, states, labels, k_distill, run.distill_updates, run.distill_lr
    )
    tree = {**tree, "actor": actor}
    distilled = agent.replace(**tree)
    pp = mode_params(distilled, run)
    val = mean_loss(dql_policy, pp, val_params, spec, key, run.val_slices, run.val_windows)
    out = {"distilled_val_loss": val, "distill_curve": curve, "distill_states": size}
    out["distill_seconds"] = time.perf_counter() - t0
    out["who_decides"] = who_decides(run, distilled, offline, val_params, spec, key)
    ckpt.save("best", run.episodes + 1, tree, {**meta, **out, "distilled": True})
    return out


def who_decides(run: DQLRunConfig, agent: DQLAgent, offline, val_params, spec, key) -> dict:
    """Validation losses of each candidate source alone (the actor's one sample; the
    critic's argmax) and how often the argmax outranks the actor's candidates on offline
    states. Empty where the critic has no argmax (MLP networks)."""
    cfg = agent.config
    if not (cfg.network == "equivariant" and cfg.budget_projection):
        return {}
    out = {}
    for mode in ("actor", "argmax"):
        pp = mode_params(agent, run, mode)
        out[f"val_loss_{mode}"] = mean_loss(
            dql_policy, pp, val_params, spec, key, run.val_slices, run.val_windows
        )
    obs = replay_sample(offline, key, 256).obs
    sources = candidate_sources(agent, key, obs, run.eval_candidates)
    return out | {k: float(v) for k, v in sources.items()}


def load_policy(run_dir: str, slot: str = "best", mode: str = "default"):
    """(act, policy_params, DQLRunConfig) of a run's best (or latest) agent, deciding as
    `mode` says (default: greedily over `eval_candidates` candidates ranked by the run's
    `rank_critic`, with the critic's argmax among them where the agent has it)."""
    if slot not in POLICY_SLOTS:
        raise ValueError(f"checkpoint must be one of {POLICY_SLOTS}, got {slot!r}")
    if mode not in ACTING_MODES:
        raise ValueError(f"acting mode must be one of {ACTING_MODES}, got {mode!r}")
    run = load_run_config(run_dir)
    agent = init_agent(jax.random.key(0), run.agent_config())
    ckpt = BestLatest(os.path.join(run_dir, "ckpt"))
    try:
        if slot == "best":
            restored = ckpt.restore("best", _best_tree(agent))
            tree = restored and restored[0]
        else:  # the agent part of the full training state
            spec, train_params, _ = run_folder.train_envs(run.env_config, run)
            restored = ckpt.restore("latest", _fresh_state(run, spec, train_params))
            tree = restored and _best_tree(restored[0]["agent"])
    finally:
        ckpt.close()
    if not tree:
        raise ValueError(f"{run_dir}: no {slot} checkpoint yet")
    agent = agent.replace(**tree)
    return dql_policy, mode_params(agent, run, mode), run
