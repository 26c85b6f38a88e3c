"""SAC (twin critics, learned temperature) on S slices stepped in parallel.

One iteration = one vector step: every slice acts with the stochastic policy,
the S transitions go into a ring buffer held in the state, then
`updates_per_step` gradient updates on uniform minibatches (once the buffer
holds `learning_starts` transitions). `train_chunk` scans over iterations.
Exploration before learning starts uses the initial policy (the equal share
plus noise), not uniform random actions, which ask for N/2 budgets on average.
The default squash is "simplex" (allocations that spend exactly B; see
`distributions`): with tanh, the entropy bonus drags 20-user slices to a ~ 0.
Episode ends are time limits: targets always bootstrap from the true successor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import struct

from difsched_jax.agents.drl import distributions as dist
from difsched_jax.agents.drl.networks import TwinQ, check_net
from difsched_jax.agents.drl.policy import ActorSpec
from difsched_jax.agents.drl.vec_env import observe, reset_slices, step_slices
from difsched_jax.config import check_positive
from difsched_jax.env import EnvParams, EnvSpec, EnvState


@dataclass(frozen=True)
class SACConfig:
    num_slices: int = 20  # S slices stepped together
    updates_per_step: int = 1  # gradient updates per vector step (S env steps)
    batch_size: int = 256
    buffer_size: int = 100_000  # transitions; a multiple of num_slices
    learning_starts: int = 2_000  # transitions before the first update
    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005  # Polyak rate of the target critics
    reward_scale: float = 1.0
    reward_center: bool = True  # subtract the buffer's mean reward in the targets
    init_alpha: float = 0.05
    # target entropy = log volume of the action set + this x latent size
    target_entropy_per_user: float = -1.0
    squash: str = "simplex"  # or "tanh" (whose entropy pulls towards a = 0: N/2 budgets)
    hidden: tuple[int, ...] = (64, 64)
    arch: str = "mlp"  # "deepsets" learns as well per update but costs ~8x (N) per update
    activation: str = "relu"
    layer_norm: bool = True  # in the critics
    init_log_std: float = -1.0

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        check_positive(self, "num_slices", "updates_per_step", "batch_size", "buffer_size")
        if self.buffer_size % self.num_slices:
            raise ValueError(
                f"SACConfig.buffer_size ({self.buffer_size}) must be a multiple of "
                f"num_slices ({self.num_slices})"
            )
        check_net(self.arch, self.activation)
        dist.check_squash(self.squash)
        if self.squash == "softmax":
            raise ValueError('SAC needs an action density: squash "simplex" or "tanh"')
        self.actor_spec(2, 200)  # validates arch/squash together

    @property
    def steps_per_iter(self) -> int:
        return self.num_slices

    def actor_spec(self, num_users: int, window: int) -> ActorSpec:
        return ActorSpec(
            num_users,
            window,
            self.hidden,
            self.arch,
            self.activation,
            self.squash,
            True,
            self.init_log_std,
        )


@struct.dataclass
class Buffer:
    s: jax.Array  # (C, N) normalised states
    a: jax.Array  # (C, N) actions in [-1, 1]
    r: jax.Array  # (C,) rewards 1 - loss
    s_next: jax.Array  # (C, N) true successor states
    ptr: jax.Array  # () int32 next write position
    size: jax.Array  # () int32 filled entries
    r_sum: jax.Array  # () float32 sum of the stored rewards (for centering)


@struct.dataclass
class Learner:
    """Everything the gradient updates change (kept apart from the buffer so the
    update loop never carries, and copies, the buffer)."""

    actor: dict
    critic: dict
    target: dict
    log_alpha: jax.Array  # () learned temperature, log
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState


@struct.dataclass
class SACState:
    learner: Learner
    buffer: Buffer
    env: EnvState  # batched over S slices
    key: jax.Array
    iteration: jax.Array  # () int32 vector steps done

    @property
    def actor(self) -> dict:
        return self.learner.actor


def _modules(cfg: SACConfig, spec: EnvSpec):
    actor = cfg.actor_spec(spec.num_users, spec.window).module()
    return actor, TwinQ(cfg.hidden, cfg.arch, cfg.activation, cfg.layer_norm)


def init_state(cfg: SACConfig, key: jax.Array, env_params: EnvParams, spec: EnvSpec) -> SACState:
    k_actor, k_critic, k_env, key = jax.random.split(key, 4)
    n = spec.num_users
    s0 = jnp.zeros((n,), jnp.float32)
    actor_mod, critic_mod = _modules(cfg, spec)
    actor = actor_mod.init(k_actor, s0)["params"]
    critic = critic_mod.init(k_critic, s0, s0)["params"]
    log_alpha = jnp.log(jnp.asarray(cfg.init_alpha, jnp.float32))
    opt = optax.adam(cfg.lr)
    c = cfg.buffer_size
    zero = jnp.zeros((), jnp.int32)
    buffer = Buffer(
        s=jnp.zeros((c, n)),
        a=jnp.zeros((c, n)),
        r=jnp.zeros((c,)),
        s_next=jnp.zeros((c, n)),
        ptr=zero,
        size=zero,
        r_sum=jnp.zeros((), jnp.float32),
    )
    learner = Learner(
        actor, critic, critic, log_alpha, opt.init(actor), opt.init(critic), opt.init(log_alpha)
    )
    env = reset_slices(k_env, env_params, spec, cfg.num_slices)
    return SACState(learner, buffer, env, key, zero)


def _insert(buf: Buffer, s, a, r, s_next) -> Buffer:
    """Write S transitions at ptr (S divides the capacity, so no wrap inside)."""
    at = lambda x, v: jax.lax.dynamic_update_slice_in_dim(x, v, buf.ptr, axis=0)
    cap, k = buf.r.shape[0], r.shape[0]
    overwritten = jax.lax.dynamic_slice_in_dim(buf.r, buf.ptr, k)  # zeros until full
    return Buffer(
        at(buf.s, s),
        at(buf.a, a),
        at(buf.r, r),
        at(buf.s_next, s_next),
        (buf.ptr + k) % cap,
        jnp.minimum(buf.size + k, cap),
        buf.r_sum + r.sum() - overwritten.sum(),
    )


def _update(cfg: SACConfig, spec: EnvSpec, buf: Buffer, st: Learner, key):
    actor_mod, critic_mod = _modules(cfg, spec)
    k_idx, k_next, k_pi = jax.random.split(key, 3)
    idx = jax.random.randint(k_idx, (cfg.batch_size,), 0, buf.size)
    s, a, r, s_next = buf.s[idx], buf.a[idx], buf.r[idx], buf.s_next[idx]
    if cfg.reward_center:  # a constant shift: same optimal policy, Q near 0 from the start
        r = r - buf.r_sum / buf.size
    alpha = jnp.exp(st.log_alpha)
    opt = optax.adam(cfg.lr)

    a_next, logp_next = dist.sample(
        k_next, *actor_mod.apply({"params": st.actor}, s_next), cfg.squash
    )
    q_next = critic_mod.apply({"params": st.target}, s_next, a_next).min(axis=0)
    y = cfg.reward_scale * r + cfg.gamma * (q_next - alpha * logp_next)  # (B,)

    def critic_loss(params):
        q = critic_mod.apply({"params": params}, s, a)  # (2, B)
        return jnp.mean(jnp.sum((q - y) ** 2, axis=0)), q.mean()

    (c_loss, q_mean), grads = jax.value_and_grad(critic_loss, has_aux=True)(st.critic)
    upd, critic_opt = opt.update(grads, st.critic_opt, st.critic)
    critic = optax.apply_updates(st.critic, upd)

    def actor_loss(params):
        a_pi, logp = dist.sample(k_pi, *actor_mod.apply({"params": params}, s), cfg.squash)
        q = critic_mod.apply({"params": critic}, s, a_pi).min(axis=0)
        return jnp.mean(alpha * logp - q), logp

    (a_loss, logp), grads = jax.value_and_grad(actor_loss, has_aux=True)(st.actor)
    upd, actor_opt = opt.update(grads, st.actor_opt, st.actor)
    actor = optax.apply_updates(st.actor, upd)

    n, dim = spec.num_users, dist.latent_dim(cfg.squash, spec.num_users)
    target_entropy = dist.log_volume(cfg.squash, n) + cfg.target_entropy_per_user * dim
    entropy = -jax.lax.stop_gradient(logp).mean()
    alpha_grad = jax.grad(lambda la: la * (entropy - target_entropy))(st.log_alpha)
    upd, alpha_opt = opt.update(alpha_grad, st.alpha_opt, st.log_alpha)
    log_alpha = optax.apply_updates(st.log_alpha, upd)

    target = optax.incremental_update(critic, st.target, cfg.tau)
    new = Learner(actor, critic, target, log_alpha, actor_opt, critic_opt, alpha_opt)
    info = {
        "critic_loss": c_loss,
        "actor_loss": a_loss,
        "q": q_mean,
        "alpha": alpha,
        "entropy": entropy,
    }
    return new, info


def _iteration(cfg: SACConfig, spec: EnvSpec, env_params: EnvParams, st: SACState, _):
    key, k_act, k_env, k_upd = jax.random.split(st.key, 4)
    actor_mod, _ = _modules(cfg, spec)
    s = observe(st.env, spec)  # (S, N)
    a, _ = dist.sample(k_act, *actor_mod.apply({"params": st.actor}, s), cfg.squash)
    vs = step_slices(k_env, st.env, a, env_params, spec)
    buf = _insert(st.buffer, s, a, vs.reward, vs.next_s)

    def learn(learner):
        keys = jax.random.split(k_upd, cfg.updates_per_step)
        learner, info = jax.lax.scan(partial(_update, cfg, spec, buf), learner, keys)
        return learner, jax.tree.map(jnp.mean, info)

    def skip(learner):
        zero = jnp.zeros((), jnp.float32)
        info = {k: zero for k in ("critic_loss", "actor_loss", "q", "entropy")}
        return learner, {**info, "alpha": jnp.exp(learner.log_alpha)}

    learner, info = jax.lax.cond(buf.size >= cfg.learning_starts, learn, skip, st.learner)
    new = SACState(learner, buf, vs.next_state, key, st.iteration + 1)
    return new, {**info, "train_loss": vs.loss.mean()}


@partial(jax.jit, static_argnames=("cfg", "spec", "num_iters"))
def train_chunk(
    cfg: SACConfig, spec: EnvSpec, env_params: EnvParams, state: SACState, num_iters: int
) -> tuple[SACState, dict]:
    """Run `num_iters` vector steps; metrics are per-iteration arrays (num_iters,)."""
    return jax.lax.scan(partial(_iteration, cfg, spec, env_params), state, None, length=num_iters)
