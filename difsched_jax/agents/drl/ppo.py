"""PPO (clipped objective, GAE) on S slices stepped in parallel.

One iteration: every slice runs `rollout_len` windows with the stochastic
policy (a `lax.scan`), advantages by GAE, then `epochs` passes of
`minibatches` clipped-objective updates (nested scans). `train_chunk` scans
over iterations, so one jit call runs many of them.

The Gaussian is on the latent z; the squash to the action is the same for the
old and the new policy, so the ratio pi_new(a)/pi_old(a) equals the latent
ratio (the Jacobians cancel) and the entropy bonus is the latent entropy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import struct

from difsched_jax.agents.drl import distributions as dist
from difsched_jax.agents.drl.networks import ValueCritic, check_net
from difsched_jax.agents.drl.policy import ActorSpec
from difsched_jax.agents.drl.vec_env import observe, reset_slices, step_slices
from difsched_jax.config import check_positive
from difsched_jax.env import EnvParams, EnvSpec, EnvState


@dataclass(frozen=True)
class PPOConfig:
    num_slices: int = 250  # S slices stepped together
    rollout_len: int = 10  # windows per slice per iteration
    epochs: int = 4
    minibatches: int = 4
    lr: float = 1e-3
    lr_decay_updates: int = 0  # linear decay to 0 over this many updates; 0: constant
    gamma: float = 0.99
    gae_lambda: float = 0.5
    clip_eps: float = 0.2
    ent_coef: float = 0.0
    max_grad_norm: float = 0.5
    reward_scale: float = 0.01  # critic units: returns ~ reward / (1 - gamma) ~ 70 -> ~0.7
    hidden: tuple[int, ...] = (32,)  # one equivariant layer: 2 layers of 64 cost 4x, no better
    arch: str = "deepsets"
    activation: str = "tanh"
    squash: str = "softmax"
    init_log_std: float = -0.5

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        check_positive(self, "num_slices", "rollout_len", "epochs", "minibatches")
        if (self.num_slices * self.rollout_len) % self.minibatches:
            raise ValueError(
                f"PPOConfig: num_slices*rollout_len ({self.num_slices * self.rollout_len}) must "
                f"divide into {self.minibatches} minibatches"
            )
        dist.check_squash(self.squash)
        check_net(self.arch, self.activation)

    @property
    def steps_per_iter(self) -> int:
        return self.num_slices * self.rollout_len

    def actor_spec(self, num_users: int, window: int) -> ActorSpec:
        return ActorSpec(
            num_users,
            window,
            self.hidden,
            self.arch,
            self.activation,
            self.squash,
            False,
            self.init_log_std,
        )


@struct.dataclass
class PPOState:
    actor: dict
    critic: dict
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    env: EnvState  # batched over S slices
    key: jax.Array
    iteration: jax.Array  # () int32 iterations done


def _optimizer(cfg: PPOConfig) -> optax.GradientTransformation:
    lr = cfg.lr
    if cfg.lr_decay_updates > 0:
        lr = optax.linear_schedule(cfg.lr, 0.0, cfg.lr_decay_updates)
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr, eps=1e-5))


def _critic(cfg: PPOConfig) -> ValueCritic:
    return ValueCritic(cfg.hidden, cfg.arch, cfg.activation)


def init_state(cfg: PPOConfig, key: jax.Array, env_params: EnvParams, spec: EnvSpec) -> PPOState:
    k_actor, k_critic, k_env, key = jax.random.split(key, 4)
    s0 = jnp.zeros((spec.num_users,), jnp.float32)
    actor = cfg.actor_spec(spec.num_users, spec.window).module().init(k_actor, s0)["params"]
    critic = _critic(cfg).init(k_critic, s0)["params"]
    opt = _optimizer(cfg)
    return PPOState(
        actor=actor,
        critic=critic,
        actor_opt=opt.init(actor),
        critic_opt=opt.init(critic),
        env=reset_slices(k_env, env_params, spec, cfg.num_slices),
        key=key,
        iteration=jnp.zeros((), jnp.int32),
    )


def _collect(cfg: PPOConfig, spec: EnvSpec, env_params: EnvParams, state: PPOState, key):
    """Roll all slices `rollout_len` windows. Returns the new env state and a
    batch with leading axes (T, S)."""
    actor_mod = cfg.actor_spec(spec.num_users, spec.window).module()

    def body(env_state, k):
        k_act, k_env = jax.random.split(k)
        s = observe(env_state, spec)  # (S, N)
        mean, log_std = actor_mod.apply({"params": state.actor}, s)  # (S, N)
        z = mean + jnp.exp(log_std) * jax.random.normal(k_act, mean.shape)
        vs = step_slices(k_env, env_state, dist.squash_latent(z, cfg.squash), env_params, spec)
        rec = {
            "s": s,
            "z": z,
            "logp": dist.gaussian_log_prob(z, mean, log_std),
            "reward": vs.reward * cfg.reward_scale,
            "loss": vs.loss,
            "next_s": vs.next_s,
            "done": vs.done,
        }
        return vs.next_state, rec

    return jax.lax.scan(body, state.env, jax.random.split(key, cfg.rollout_len))


def _gae(cfg: PPOConfig, value, next_value, reward, done):
    """(T, S) arrays -> advantages (T, S). Bootstraps every step from the true
    successor; the lambda-sum stops at episode ends (time limits)."""
    delta = reward + cfg.gamma * next_value - value

    def back(carry, x):
        d, dn = x
        adv = d + cfg.gamma * cfg.gae_lambda * (1.0 - dn) * carry
        return adv, adv

    _, adv = jax.lax.scan(
        back, jnp.zeros_like(delta[0]), (delta, done.astype(jnp.float32)), reverse=True
    )
    return adv


def _losses(cfg: PPOConfig, actor_mod, critic_mod, actor, critic, mb):
    mean, log_std = actor_mod.apply({"params": actor}, mb["s"])
    logp = dist.gaussian_log_prob(mb["z"], mean, log_std)
    ratio = jnp.exp(logp - mb["logp"])
    adv = (mb["adv"] - mb["adv"].mean()) / (mb["adv"].std() + 1e-8)
    clipped = jnp.clip(ratio, 1.0 - cfg.clip_eps, 1.0 + cfg.clip_eps)
    pg_loss = -jnp.mean(jnp.minimum(ratio * adv, clipped * adv))
    entropy = jnp.mean(dist.gaussian_entropy(log_std))
    actor_loss = pg_loss - cfg.ent_coef * entropy
    value = critic_mod.apply({"params": critic}, mb["s"])
    value_loss = 0.5 * jnp.mean((value - mb["ret"]) ** 2)
    info = {
        "pg_loss": pg_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": jnp.mean((ratio - 1.0) - jnp.log(ratio)),
        "clip_frac": jnp.mean(jnp.abs(ratio - 1.0) > cfg.clip_eps),
    }
    return actor_loss + value_loss, info


def _iteration(cfg: PPOConfig, spec: EnvSpec, env_params: EnvParams, state: PPOState, _):
    key, k_roll, k_perm = jax.random.split(state.key, 3)
    env_state, batch = _collect(cfg, spec, env_params, state, k_roll)
    actor_mod = cfg.actor_spec(spec.num_users, spec.window).module()
    critic_mod = _critic(cfg)
    value = critic_mod.apply({"params": state.critic}, batch["s"])  # (T, S)
    next_value = critic_mod.apply({"params": state.critic}, batch["next_s"])  # (T, S)
    adv = _gae(cfg, value, next_value, batch["reward"], batch["done"])
    flat = {k: batch[k].reshape((-1,) + batch[k].shape[2:]) for k in ("s", "z", "logp")}
    flat["adv"] = adv.reshape(-1)
    flat["ret"] = (adv + value).reshape(-1)
    opt = _optimizer(cfg)
    grad_fn = jax.grad(partial(_losses, cfg, actor_mod, critic_mod), argnums=(0, 1), has_aux=True)

    def update(carry, mb):
        actor, critic, a_opt, c_opt = carry
        (g_actor, g_critic), info = grad_fn(actor, critic, mb)
        upd, a_opt = opt.update(g_actor, a_opt, actor)
        actor = optax.apply_updates(actor, upd)
        upd, c_opt = opt.update(g_critic, c_opt, critic)
        critic = optax.apply_updates(critic, upd)
        return (actor, critic, a_opt, c_opt), info

    def epoch(carry, k):
        perm = jax.random.permutation(k, cfg.steps_per_iter)
        mbs = jax.tree.map(lambda x: x[perm].reshape((cfg.minibatches, -1) + x.shape[1:]), flat)
        return jax.lax.scan(update, carry, mbs)

    carry = (state.actor, state.critic, state.actor_opt, state.critic_opt)
    carry, info = jax.lax.scan(epoch, carry, jax.random.split(k_perm, cfg.epochs))
    actor, critic, a_opt, c_opt = carry
    new_state = PPOState(actor, critic, a_opt, c_opt, env_state, key, state.iteration + 1)
    metrics = {k: v.mean() for k, v in info.items()}
    metrics["train_loss"] = batch["loss"].mean()
    return new_state, metrics


@partial(jax.jit, static_argnames=("cfg", "spec", "num_iters"))
def train_chunk(
    cfg: PPOConfig, spec: EnvSpec, env_params: EnvParams, state: PPOState, num_iters: int
) -> tuple[PPOState, dict]:
    """Run `num_iters` iterations; metrics are per-iteration arrays (num_iters,)."""
    return jax.lax.scan(partial(_iteration, cfg, spec, env_params), state, None, length=num_iters)
