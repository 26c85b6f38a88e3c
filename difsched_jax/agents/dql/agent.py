"""The diffusion Q-learning agent as a pytree, with pure jitted update and act (SPEC §5).

`DQLAgent` carries its `DQLConfig` as static aux data; every other field is an
array (params, EMA targets, optax states, the update counter), so the agent
goes through `jit`, `lax.scan` and Orbax as one object.
"""

from __future__ import annotations

import functools
from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import struct

from difsched_jax.agents.dql.argmax import critic_argmax_action
from difsched_jax.agents.dql.config import DQLConfig
from difsched_jax.agents.dql.networks import (
    critic_penalty,
    critic_values,
    init_actor,
    init_critics,
    q_min,
)
from difsched_jax.agents.dql.replay import Batch
from difsched_jax.agents.dql.sampling import (
    approximate_action,
    bc_loss,
    bc_loss_and_approximate_action,
    ddim_sample,
    entropy_loss,
)

ACT_METHODS = ("greedy", "eas", "bc", "argmax")
RANKING_CRITICS = ("online", "target")


def executed_action(cfg: DQLConfig, a):
    """The action the agent commits to, (..., A) in [−1, 1]: `a` itself, or with
    `budget_projection` the allocation r = (a + 1)·B/2 rescaled to spend exactly B
    (equal share when r = 0), so no candidate is cut at random by the budget rule."""
    if not cfg.budget_projection:
        return a
    r = (a + 1.0) * (cfg.budget / 2.0)  # (..., A) resource blocks
    total = r.sum(-1, keepdims=True)
    r = jnp.where(
        total > 1e-6, r * (cfg.budget / jnp.maximum(total, 1e-6)), cfg.budget / a.shape[-1]
    )
    return jnp.clip(2.0 * r / cfg.budget - 1.0, -1.0, 1.0)


def _clipped(cfg: DQLConfig, a0_hat):
    """clip(â0, −1, 1) with `q_action_clip` (straight-through with
    `q_clip_straight_through`), else â0 itself."""
    if not cfg.q_action_clip:
        return a0_hat
    a_clip = jnp.clip(a0_hat, -1.0, 1.0)
    if cfg.q_clip_straight_through:
        return a0_hat + jax.lax.stop_gradient(a_clip - a0_hat)
    return a_clip


def q_loss_action(cfg: DQLConfig, a0_hat):
    """The action the Q-loss scores for the one-shot â0 (..., A). With `q_action_clip`,
    the one the env would execute, clip(â0, −1, 1): outside the box the critic only
    extrapolates, and its gradient there drove no-BC actors into the corners. With
    `q_clip_straight_through` the gradient passes the clip unchanged: a plain clip has
    none outside the box, and actors that left it never came back."""
    return executed_action(cfg, _clipped(cfg, a0_hat))


def budget_penalty(cfg: DQLConfig, a0_hat):
    """mean(relu(|Σ_i r_i/B − 1| − ½)²) of the clipped â0 (B, A). The budget projection
    rescales Σr to B, so Q cannot see the scale of â0; this keeps it off the two
    degenerate ends (every user at 0, or every user at B), free in between."""
    spent = (_clipped(cfg, a0_hat) + 1.0).sum(-1) / 2.0  # Σ r_i / B
    return jnp.mean(jax.nn.relu(jnp.abs(spent - 1.0) - 0.5) ** 2)


@struct.dataclass
class DQLAgent:
    actor: dict  # linen params of ε(a_t, s, t)
    critic: dict  # linen params, every leaf with leading axes (2, K)
    actor_target: dict  # EMA of actor
    critic_target: dict  # EMA of critic
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    step: jax.Array  # () int32 updates done
    config: DQLConfig = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)  # both networks'


def lr_schedule(config: DQLConfig):
    if config.lr_decay_steps == 0:
        return optax.constant_schedule(config.lr)
    return optax.cosine_decay_schedule(config.lr, config.lr_decay_steps, alpha=0.0)


@functools.cache
def make_optimizer(config: DQLConfig) -> optax.GradientTransformation:
    """Global-norm clip then Adam (weight decay 0) with cosine lr decay. One object per
    config: agents built apart from equal configs hold the same `tx` (so jit, which
    compares static fields, does not retrace)."""
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(lr_schedule(config)))


@partial(jax.jit, static_argnums=1)
def init_agent(key, config: DQLConfig) -> DQLAgent:
    """Fresh agent: targets start as copies of the online networks; step 0."""
    k_a, k_c = jax.random.split(key)
    actor = init_actor(k_a, config)
    critic = init_critics(k_c, config)
    opt = make_optimizer(config)
    return DQLAgent(
        actor=actor,
        critic=critic,
        actor_target=actor,
        critic_target=critic,
        actor_opt=opt.init(actor),
        critic_opt=opt.init(critic),
        step=jnp.int32(0),
        config=config,
        tx=opt,
    )


def critic_target(agent: DQLAgent, key, next_obs, reward, done):
    """r + γ·min(Q1', Q2')(s', a'), a' ~ target actor DDIM(q_sample_eta): (K, B) for
    next_obs (B, S), reward (B,), done (B,). Optional max-Q backup (best of n)."""
    cfg = agent.config
    if cfg.gamma == 0.0:  # a bandit: the target is the reward (skip the DDIM chain)
        return jnp.broadcast_to(reward, (cfg.num_critics,) + reward.shape)
    if cfg.max_q_backup:  # best of n target-actor samples, per ensemble member
        n, b = cfg.max_q_samples, next_obs.shape[0]
        s_rep = jnp.repeat(next_obs, n, axis=0)  # (B·n, S)
        a_next = ddim_sample(cfg, agent.actor_target, key, s_rep, cfg.q_sample_eta)
        a_next = executed_action(cfg, a_next)
        q_next = q_min(agent.critic_target, cfg, s_rep, a_next).reshape(-1, b, n).max(-1)
    else:
        a_next = ddim_sample(cfg, agent.actor_target, key, next_obs, cfg.q_sample_eta)
        a_next = executed_action(cfg, a_next)
        q_next = q_min(agent.critic_target, cfg, next_obs, a_next)  # (K, B)
    not_done = 1.0 - done if cfg.mask_done else 1.0
    return jax.lax.stop_gradient(reward + cfg.gamma * not_done * q_next)


def unit_scaled(loss, floor: float = 0.0):
    """`loss` divided by a stop-gradient of its magnitude (as the reference), the divisor
    at least `floor`: a value of ±1 whose gradient is that of `loss` / max(|loss|, floor)."""
    return loss / jax.lax.stop_gradient(jnp.maximum(jnp.abs(loss), floor))


def _actor_loss(
    actor_params, critic_params, cfg: DQLConfig, key, batch: Batch, bc_batch: Batch, teacher
):
    """teacher: the critic's actions (B, A) for batch.obs to clone, or None."""
    k_aa, k_e = jax.random.split(key)
    sg = jax.lax.stop_gradient
    zero = jnp.float32(0.0)
    if cfg.w_bc:  # one actor pass over the hybrid and the offline batch together
        l_clone, a0_hat, a1_hat = bc_loss_and_approximate_action(
            cfg, actor_params, k_aa, batch.obs, batch.action, bc_batch.obs, bc_batch.action
        )
    else:
        l_clone = zero
        a0_hat, a1_hat = approximate_action(cfg, actor_params, k_aa, batch.obs, batch.action)
    q_ens = q_min(critic_params, cfg, batch.obs, q_loss_action(cfg, a0_hat))  # (K, B)
    # std with a floor inside the root: the gradient of sqrt is infinite where members
    # agree exactly (likely with few members), and 0·inf is NaN even at lcb_coef 0
    spread = jnp.sqrt(q_ens.var(0, ddof=1) + 1e-12)  # (B,)
    lcb = q_ens.mean(0) - cfg.lcb_coef * spread  # (B,)
    loss_q = -lcb.mean() / sg(jnp.abs(q_ens).mean())
    l_ent = entropy_loss(cfg, actor_params, k_e, batch.obs, a0_hat, a1_hat) if cfg.w_e else zero
    loss_bc = unit_scaled(l_clone) if cfg.w_bc else zero
    # the NLL crosses zero as the reverse step sharpens: a floor of 1 on its divisor keeps
    # the term from being amplified without bound (actor gradients of 10³, then equal share)
    loss_e = unit_scaled(l_ent, floor=1.0) if cfg.w_e else zero
    total = cfg.w_bc * loss_bc + cfg.w_q * loss_q + cfg.w_e * loss_e
    metrics = {"bc_loss": l_clone, "q_lcb": lcb.mean(), "entropy": l_ent}
    if teacher is not None:  # clone the critic's choice (behaviour cloning's loss)
        metrics["teacher_loss"] = bc_loss(
            cfg, actor_params, jax.random.fold_in(key, 7), batch.obs, teacher
        )
        total = total + cfg.w_teacher * metrics["teacher_loss"]
    if cfg.budget_projection and cfg.w_budget:
        metrics["budget_penalty"] = budget_penalty(cfg, a0_hat)
        total = total + cfg.w_budget * metrics["budget_penalty"]
    return total, {**metrics, "actor_loss": total}


def actor_learns(cfg: DQLConfig) -> bool:
    """Whether any term of the actor's loss has weight (static)."""
    return bool(cfg.w_q or cfg.w_bc or cfg.w_e or cfg.teacher != "none")


def _ema(target, online, tau):
    return jax.tree.map(lambda t, o: t + tau * (o - t), target, online)


def update_with_target(agent: DQLAgent, batch: Batch, target, key, bc_batch: Batch | None = None):
    """One update given the critic target (K, B) of `batch` (see `critic_target`)."""
    cfg = agent.config
    bc_batch = batch if bc_batch is None else bc_batch
    opt = agent.tx

    # critic: MSE of both ensembles to the shared target (+ the weighted critic's penalty)
    def critic_loss(params):
        q = critic_values(params, cfg, batch.obs, batch.action)  # (2, K, B)
        loss = jnp.mean((q[0] - target) ** 2) + jnp.mean((q[1] - target) ** 2)
        return loss + critic_penalty(params, cfg), q.mean()

    (c_loss, q_mean), c_grad = jax.value_and_grad(critic_loss, has_aux=True)(agent.critic)
    c_upd, critic_opt = opt.update(c_grad, agent.critic_opt, agent.critic)
    critic = optax.apply_updates(agent.critic, c_upd)

    # actor: against the freshly updated critic (as the reference), which also teaches
    teacher = None
    if cfg.teacher == "argmax":
        teacher = jax.lax.stop_gradient(critic_argmax_action(critic, cfg, batch.obs))
    if actor_learns(cfg):
        (_, a_metrics), a_grad = jax.value_and_grad(_actor_loss, has_aux=True)(
            agent.actor, critic, cfg, key, batch, bc_batch, teacher
        )
        a_upd, actor_opt = opt.update(a_grad, agent.actor_opt, agent.actor)
        actor = optax.apply_updates(agent.actor, a_upd)
    else:  # every actor term weighs 0: the critic alone learns (the actor is distilled later)
        zero = jnp.float32(0.0)
        a_metrics = {k: zero for k in ("bc_loss", "q_lcb", "entropy", "actor_loss")}
        a_grad, actor, actor_opt = (
            jax.tree.map(jnp.zeros_like, agent.actor),
            agent.actor,
            agent.actor_opt,
        )

    # EMA targets when step % period == 0 and step > start (the reference's rule)
    do_ema = (agent.step % cfg.ema_period == 0) & (agent.step > cfg.ema_start)
    actor_target, critic_target_ = jax.lax.cond(
        do_ema,
        lambda: (
            _ema(agent.actor_target, actor, cfg.ema_tau),
            _ema(agent.critic_target, critic, cfg.ema_tau),
        ),
        lambda: (agent.actor_target, agent.critic_target),
    )
    new = agent.replace(
        actor=actor,
        critic=critic,
        actor_target=actor_target,
        critic_target=critic_target_,
        actor_opt=actor_opt,
        critic_opt=critic_opt,
        step=agent.step + 1,
    )
    metrics = {
        "critic_loss": c_loss,
        "q_mean": q_mean,
        "target_mean": target.mean(),
        "critic_grad_norm": optax.tree.norm(c_grad),
        "actor_grad_norm": optax.tree.norm(a_grad),
        "lr": lr_schedule(cfg)(agent.step),
        **a_metrics,
    }
    return new, metrics


def _update(agent: DQLAgent, batch: Batch, key, bc_batch: Batch | None = None):
    """update(agent, batch, key, bc_batch=None) -> (agent, metrics).

    One SPEC §5 update: critic and Q-loss on `batch`, behaviour cloning on `bc_batch`
    (default: the same batch). Pure and jitted. Metrics are scalars."""
    # `key` itself drives update_with_target (as in update_many, which tests rely on)
    k_tgt = jax.random.fold_in(key, 0x7A26E7)
    target = critic_target(agent, k_tgt, batch.next_obs, batch.reward, batch.done)
    return update_with_target(agent, batch, target, key, bc_batch)


update = jax.jit(_update)


def actor_candidates(actor, cfg: DQLConfig, key, obs, num_candidates, eta):
    """`num_candidates` DDIM(η) samples per state, as executed: (B, n, A). The sampler
    visits `cfg.sample_steps` steps (network evaluations per candidate)."""
    b, n = obs.shape[0], num_candidates
    s_rep = jnp.repeat(obs, n, axis=0)  # (B·n, S)
    a = ddim_sample(cfg, actor, key, s_rep, eta, steps=cfg.sample_steps or None)
    return executed_action(cfg, a).reshape(b, n, -1)


def _act(actor, critic, cfg: DQLConfig, key, obs, num_candidates, eta, method, argmax=None):
    """obs (B, S) → actions (B, A): N DDIM(η) candidates per state, scored by the
    ensemble mean of min(Q1, Q2) of `critic`, then greedy / EAS / uniform ("bc").
    argmax (default cfg.critic_argmax): the critic's exact best allocation joins the
    candidates. One candidate and no argmax: the actor's sample, unranked. "argmax":
    the critic's best allocation alone (no actor)."""
    if method not in ACT_METHODS:
        raise ValueError(f"method must be one of {ACT_METHODS}, got {method!r}")
    if method == "argmax":
        return critic_argmax_action(critic, cfg, obs)
    argmax = cfg.critic_argmax if argmax is None else argmax
    b, n = obs.shape[0], num_candidates
    k_s, k_pick = jax.random.split(key)
    cand = actor_candidates(actor, cfg, k_s, obs, n, eta)  # (B, n, A)
    if n == 1 and not argmax:
        return cand[:, 0]  # what the actor alone decides
    s_rep = jnp.repeat(obs, n, axis=0)
    if method == "bc":
        idx = jax.random.randint(k_pick, (b,), 0, n)
    else:
        if argmax:  # one more candidate: the critic's exact best allocation
            best = critic_argmax_action(critic, cfg, obs)  # (B, A)
            cand = jnp.concatenate([cand, best[:, None]], axis=1)
            n, s_rep = n + 1, jnp.repeat(obs, n + 1, axis=0)
        q = q_min(critic, cfg, s_rep, cand.reshape(b * n, -1)).mean(0).reshape(b, n)
        if method == "greedy":
            idx = jnp.argmax(q, axis=1)
        else:  # "eas": sample ∝ softmax(Q)
            idx = jax.random.categorical(k_pick, q, axis=1)
    return jnp.take_along_axis(cand, idx[:, None, None], axis=1)[:, 0]


@partial(jax.jit, static_argnames=("num_candidates",))
def candidate_sources(agent: DQLAgent, key, obs, num_candidates: int, eta=1.0) -> dict:
    """Who decides, on states obs (B, S): how often the critic's exact best allocation
    ranks above every one of `num_candidates` actor samples (ties go to the actor), and
    the mean Q margin of the argmax over the best actor sample (≥ 0 up to ties)."""
    cfg = agent.config
    b, n = obs.shape[0], num_candidates
    cand = actor_candidates(agent.actor, cfg, key, obs, n, eta)
    q_cand = q_min(agent.critic, cfg, jnp.repeat(obs, n, axis=0), cand.reshape(b * n, -1))
    best_actor = q_cand.mean(0).reshape(b, n).max(1)
    q_best = q_min(agent.critic, cfg, obs, critic_argmax_action(agent.critic, cfg, obs)).mean(0)
    return {
        "argmax_wins": jnp.mean(q_best > best_actor),
        "argmax_q_margin": jnp.mean(q_best - best_actor),
    }


def ranking_critic(agent: DQLAgent, critic: str = "online"):
    """Params of the critic that ranks candidates. "online" by default: the reference
    ranked with the EMA target, which stays at its random init for the first 1,000
    updates (a quirk SPEC §5 does not copy; a reloaded reference model ranks with the
    online weights, since loading copies them into the target)."""
    if critic not in RANKING_CRITICS:
        raise ValueError(f"critic must be one of {RANKING_CRITICS}, got {critic!r}")
    return agent.critic if critic == "online" else agent.critic_target


@partial(jax.jit, static_argnames=("num_candidates", "method", "critic"))
def act(
    agent: DQLAgent,
    key,
    obs,
    num_candidates: int = 50,
    eta=1.0,
    method: str = "greedy",
    critic: str = "online",
):
    """Actions in [−1, 1]^A for states obs (B, S) (or one state (S,)). Pure, jitted;
    `eta` is traced (vary it without recompiling). `critic`: "online" or "target"."""
    single = obs.ndim == 1
    obs2 = obs[None] if single else obs
    q_params = ranking_critic(agent, critic)
    a = _act(agent.actor, q_params, agent.config, key, obs2, num_candidates, eta, method)
    return a[0] if single else a
