"""Denoising actor ε(a_t, s, t) and the double critic ensemble (SPEC §5), Flax linen.

Why linen: parameters are plain dict pytrees, so the agent is a pytree that
`lax.scan`, `jax.vmap` and Orbax handle directly, and the 2 × K critics are one
module whose params are stacked and `jax.vmap`-ed (one batched matmul per layer)
rather than K module copies. NNX would need split/merge at every jit boundary.

Speed notes: the actor's first layer acts on [a_t, s, emb(t)]; its kernel is one
parameter, sliced so the s- and t-parts can be computed once per state / per
step and reused across the 30 sampling steps and the candidates; the step part is a
one-hot matmul (no scatter in the backward). Mish uses a one-exp closed form with a
hand-written derivative. Dropout (training only) draws its three masks at once. `matmul_dtype="bfloat16"` runs the two 128×128 hidden
matmuls with bf16 inputs and float32 accumulation (like TPU default precision).
"""

from __future__ import annotations

import math
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.agents.dql.config import DQLConfig
from difsched_jax.agents.dql.equivariant import EquivariantActor, EquivariantCritic, WeightedCritic
from difsched_jax.agents.dql.layers import Dense, _uniform, mish
from difsched_jax.agents.dql.schedule import timestep_embedding


class Actor(nn.Module):
    """ε(a_t, s, t): MLP on [a_t, s, emb(t)], 3 hidden layers, Mish, dropout, optional LN."""

    action_dim: int
    state_dim: int
    num_steps: int
    hidden: int = 128
    t_dim: int = 128
    dropout: float = 0.05
    layer_norm: bool = True
    matmul_dtype: str = "float32"

    def setup(self):
        a, s, e, h = self.action_dim, self.state_dim, self.t_dim, self.hidden
        bound = 1.0 / math.sqrt(a + s + e)
        # first layer on [a_t | s | emb(t)]: one kernel (init as one Linear), sliced by rows
        self.in_kernel = self.param("in_kernel", _uniform(bound), (a + s + e, h))
        self.in_bias = self.param("in_bias", _uniform(bound), (h,))
        self.hidden_1 = Dense(h, self.matmul_dtype)
        self.hidden_2 = Dense(h, self.matmul_dtype)
        self.out = Dense(a)
        self.norms = [nn.LayerNorm(epsilon=1e-5) for _ in range(3)] if self.layer_norm else None

    def step_table(self):
        """emb(t) @ W_t for t = 0..T. (T+1, H)"""
        emb = timestep_embedding(jnp.arange(self.num_steps + 1), self.t_dim)
        return emb @ self.in_kernel[self.action_dim + self.state_dim :]

    def condition(self, s):
        """s @ W_s + b: the state part of the first layer. (..., H)"""
        a, sd = self.action_dim, self.state_dim
        return s @ self.in_kernel[a : a + sd] + self.in_bias

    def denoise(self, a_t, cond, dropout_key=None):
        """ε from a_t (..., A) and cond = condition(s) + step_table()[t] (..., H).
        Dropout only when a `dropout_key` is given (training)."""
        h = a_t @ self.in_kernel[: self.action_dim] + cond
        keep = 1.0 - self.dropout
        if dropout_key is not None and self.dropout > 0:
            # all three masks from one draw of 16-bit words (half the hashing of
            # bernoulli's 32-bit floats; keep-probability exact to 1/65536)
            bits = jax.random.bits(dropout_key, (3,) + h.shape, jnp.uint16)
            masks = bits < np.uint16(round(keep * 65536))
        for i, layer in enumerate((None, self.hidden_1, self.hidden_2)):
            if layer is not None:
                h = layer(h)
            if self.norms is not None:
                h = self.norms[i](h)
            h = mish(h)
            if dropout_key is not None and self.dropout > 0:
                h = jnp.where(masks[i], h * (1.0 / keep), 0.0)
        return self.out(h)

    def __call__(self, a_t, s, t, dropout_key=None):
        """a_t (..., A), s (..., S), t (...,) int in 1..T → ε (..., A)."""
        # one-hot matmul rather than a gather: its backward is a matmul, not a scatter-add
        onehot = jax.nn.one_hot(t, self.num_steps + 1, dtype=jnp.float32)  # (..., T+1)
        cond = self.condition(s) + onehot @ self.step_table()
        return self.denoise(a_t, cond, dropout_key)


class Critic(nn.Module):
    """One Q(s, a): 3 hidden layers of 128, Mish, optional LN; EDAC-style init."""

    hidden: int = 128
    layer_norm: bool = False
    matmul_dtype: str = "float32"

    @nn.compact
    def __call__(self, s, a):
        """s (..., S), a (..., A) → Q (...,)."""
        h = jnp.concatenate([s, a], axis=-1)
        bias01 = nn.initializers.constant(0.1)
        for i in range(3):
            h = Dense(self.hidden, "float32" if i == 0 else self.matmul_dtype, bias_init=bias01)(h)
            if self.layer_norm:
                h = nn.LayerNorm(epsilon=1e-5)(h)
            h = mish(h)
        q = Dense(1, kernel_init=_uniform(3e-3), bias_init=_uniform(3e-3))(h)
        return q[..., 0]


def make_actor(config: DQLConfig):
    """SPEC §5's MLP actor (network "mlp") or the per-user one ("equivariant")."""
    if config.network == "equivariant":
        return EquivariantActor(
            num_steps=config.num_steps,
            hidden=config.user_hidden,
            t_dim=config.t_dim,
            dropout=config.dropout,
            layer_norm=config.actor_layer_norm,
            matmul_dtype=config.matmul_dtype,
        )
    return Actor(
        action_dim=config.action_dim,
        state_dim=config.state_dim,
        num_steps=config.num_steps,
        hidden=config.hidden,
        t_dim=config.t_dim,
        dropout=config.dropout,
        layer_norm=config.actor_layer_norm,
        matmul_dtype=config.matmul_dtype,
    )


def make_critic(config: DQLConfig):
    if config.network == "equivariant":
        if config.critic_structure == "weighted":
            return WeightedCritic(
                config.user_hidden, config.critic_layer_norm, config.matmul_dtype,
                budget=int(config.budget),
            )  # fmt: skip
        return EquivariantCritic(config.user_hidden, config.critic_layer_norm, config.matmul_dtype)
    return Critic(config.hidden, config.critic_layer_norm, config.matmul_dtype)


@partial(jax.jit, static_argnums=1)
def init_actor(key, config: DQLConfig):
    a = jnp.zeros((1, config.action_dim))
    s = jnp.zeros((1, config.state_dim))
    return make_actor(config).init(key, a, s, jnp.ones((1,), jnp.int32))


@partial(jax.jit, static_argnums=1)
def init_critics(key, config: DQLConfig):
    """Two ensembles of K critics: every leaf has leading axes (2, K)."""
    critic = make_critic(config)
    s = jnp.zeros((1, config.state_dim))
    a = jnp.zeros((1, config.action_dim))
    keys = jax.random.split(key, 2 * config.num_critics)
    params = jax.vmap(lambda k: critic.init(k, s, a))(keys)
    return jax.tree.map(lambda x: x.reshape((2, config.num_critics) + x.shape[1:]), params)


def _members(params, config: DQLConfig, *args, method=None):
    """Every member's critic (`method` of it, default __call__) on `args` (s, a; s;
    or none): (2, K, ...). One vmap over the 2K param sets."""
    critic = make_critic(config)
    flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), params)
    apply = partial(critic.apply, method=method)
    q = jax.vmap(apply, in_axes=(0,) + (None,) * len(args))(flat, *args)  # (2K, ...)
    return q.reshape((2, config.num_critics) + q.shape[1:])


def critic_values(params, config: DQLConfig, s, a):
    """Q1, Q2 of every member: s (B, S), a (B, A) → (2, K, B)."""
    return _members(params, config, s, a)


def critic_per_user(params, config: DQLConfig, s, a):
    """Per-user terms of every member's Q (equivariant critics, Q = their mean over
    users): s (B, N), a (B, N) → (2, K, B, N)."""
    return _members(params, config, s, a, method="per_user")


def critic_grid_table(params, config: DQLConfig, s):
    """Weighted critics: every member's per-user terms at r = 0..B in one pass,
    s (M, N) → (2, K, M, N, B + 1)."""
    return _members(params, config, s, method="table")


def critic_penalty(params, config: DQLConfig):
    """`rise_penalty` × g's total rise, averaged over each ensemble's members and summed
    over the two ensembles as the critic's MSE is (weighted critics; 0 otherwise). ()"""
    if config.network != "equivariant" or config.critic_structure != "weighted":
        return jnp.float32(0.0)
    return config.rise_penalty * _members(params, config, method="rise").mean(1).sum()


def q_min(params, config: DQLConfig, s, a):
    """min(Q1, Q2) per ensemble member: (K, B)."""
    q = critic_values(params, config, s, a)
    return jnp.minimum(q[0], q[1])
