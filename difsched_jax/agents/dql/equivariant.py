"""Permutation-equivariant actor and critic of Diffusion-QL ("equivariant" networks).

Users are exchangeable: they share the channel and the budget, and the loss is
a count-weighted mean of per-user terms. So both networks work on per-user
features with shared weights and a pooled context (Deep Sets):

    h_i ← mish(LN(h_i W + mean_j(h_j) U + b))          # (..., N, H)

The actor's ε_i(a_t, s, t) permutes with the users; the critic is the mean of
per-user heads, hence invariant. Nothing depends on N: one network serves any
number of users. Per layer a state costs N·H² + H² multiply-adds (the context's
matmul runs once per state, not once per user).

Shapes: s, a, a_t (..., N); per-user hidden features (..., N, H).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.agents.dql.layers import Dense, _uniform, mish
from difsched_jax.agents.dql.schedule import timestep_embedding


def _pooled(h):
    """Context of every user: the mean over users, (..., 1, H)."""
    return h.mean(axis=-2, keepdims=True)


class EquivariantLayer(nn.Module):
    """h_i W + mean_j(h_j) U + b, then optional LayerNorm: (..., N, F) → (..., N, H)."""

    features: int
    layer_norm: bool = False
    matmul_dtype: str = "float32"
    bias_init: object = None

    @nn.compact
    def __call__(self, h):
        own = Dense(self.features, self.matmul_dtype, bias_init=self.bias_init)(h)
        fan_in = h.shape[-1]
        u = self.param("context", _uniform(1.0 / math.sqrt(fan_in)), (fan_in, self.features))
        out = own + _pooled(h) @ u
        return nn.LayerNorm(epsilon=1e-5)(out) if self.layer_norm else out


class EquivariantActor(nn.Module):
    """ε_i(a_t, s, t): per-user [a_t,i, s_i] (+ their means) and emb(t) → 3 equivariant
    layers (Mish, dropout, optional LN) → one output per user.

    Same methods as `networks.Actor` (step_table, condition, denoise, __call__), so
    the samplers reuse the state and step parts of the first layer across steps;
    here `condition(s)` is per user, (..., N, H)."""

    num_steps: int
    hidden: int = 64
    t_dim: int = 128
    dropout: float = 0.05
    layer_norm: bool = True
    matmul_dtype: str = "float32"

    def setup(self):
        h = self.hidden
        bound = 1.0 / math.sqrt(4 + self.t_dim)  # fan-in of [a_t, s, mean a_t, mean s, emb]
        # first layer: rows a_t, s, mean(a_t), mean(s), then emb(t)
        self.in_kernel = self.param("in_kernel", _uniform(bound), (4 + self.t_dim, h))
        self.in_bias = self.param("in_bias", _uniform(bound), (h,))
        self.hidden_1 = EquivariantLayer(h, matmul_dtype=self.matmul_dtype)
        self.hidden_2 = EquivariantLayer(h, matmul_dtype=self.matmul_dtype)
        self.out = Dense(1)
        self.norms = [nn.LayerNorm(epsilon=1e-5) for _ in range(3)] if self.layer_norm else None

    def step_table(self):
        """emb(t) @ W_t for t = 0..T. (T+1, H)"""
        emb = timestep_embedding(jnp.arange(self.num_steps + 1), self.t_dim)
        return emb @ self.in_kernel[4:]

    def _users(self, x, row: int):
        """x_i w + mean(x) w' for one scalar per user x (..., N) → (..., N, H)."""
        w, w_mean = self.in_kernel[row], self.in_kernel[row + 2]
        return x[..., None] * w + x.mean(-1, keepdims=True)[..., None] * w_mean

    def condition(self, s):
        """The state part of the first layer, per user. (..., N, H)"""
        return self._users(s, 1) + self.in_bias

    def denoise(self, a_t, cond, dropout_key=None):
        """ε (..., N) from a_t (..., N) and cond = condition(s) + step_table()[t]
        ((..., N, H), or (..., 1, H) for the step part). Dropout only with a key."""
        h = self._users(a_t, 0) + cond
        keep = 1.0 - self.dropout
        if dropout_key is not None and self.dropout > 0:
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
        return self.out(h)[..., 0]

    def __call__(self, a_t, s, t, dropout_key=None):
        """a_t (..., N), s (..., N), t (...,) int in 1..T → ε (..., N)."""
        onehot = jax.nn.one_hot(t, self.num_steps + 1, dtype=jnp.float32)  # (..., T+1)
        step = (onehot @ self.step_table())[..., None, :]  # (..., 1, H)
        return self.denoise(a_t, self.condition(s) + step, dropout_key)


class EquivariantCritic(nn.Module):
    """Q(s, a) = mean_i q_i: per-user terms, additive over users in the action.

    q_i sees user i's own [s_i, a_i] from the first layer on, plus a context of the
    state alone (mean over users of a per-user state feature), never the other users'
    actions. Why additive: on the executed allocation the reward is
    1 − Σ_i (u_i/Σu)(1 − p(r_i)), so E[reward | s, a] = b(s) + Σ_i c_i(s) p̄(r_i) has
    no cross-user action terms. 3 layers, Mish, optional LN; EDAC-style init as
    `networks.Critic`."""

    hidden: int = 64
    layer_norm: bool = False
    matmul_dtype: str = "float32"

    def __call__(self, s, a):
        """s (..., N), a (..., N) → Q (...,)."""
        return self.per_user(s, a).mean(axis=-1)

    @nn.compact
    def per_user(self, s, a):
        """s (..., N), a (..., N) → q_i(s, a_i) (..., N), Q = their mean."""
        bias01 = nn.initializers.constant(0.1)
        ctx = _pooled(mish(Dense(self.hidden, bias_init=bias01)(s[..., None])))  # (..., 1, H)
        h = jnp.stack([s, a], axis=-1)  # (..., N, 2)
        for i in range(3):
            dtype = "float32" if i == 0 else self.matmul_dtype
            h = Dense(self.hidden, dtype, bias_init=bias01)(h)
            if i == 0:  # the state context enters once, like a per-state bias
                bound = 1.0 / math.sqrt(self.hidden)
                h = h + ctx @ self.param("context", _uniform(bound), (self.hidden, self.hidden))
            if self.layer_norm:
                h = nn.LayerNorm(epsilon=1e-5)(h)
            h = mish(h)
        q = Dense(1, kernel_init=_uniform(3e-3), bias_init=_uniform(3e-3))(h)  # (..., N, 1)
        return q[..., 0]


class WeightedCritic(nn.Module):
    """Q(s, a) = b(s) + Σ_i c_i(s)·g(r_i): the reward's own shape (critic_structure
    "weighted").

    E[1 − loss | s, a] = 1 − Σ_i c_i(s)(1 − p̄(r_i)) with c_i(s) = E[u_i/Σu | s] ≥ 0,
    Σ_i c_i = 1, and p̄ the success curve averaged over the channel, the same for
    every user and state (SPEC §1; the channel is drawn independently of the counts).
    So c = softmax over users of a per-user state score (2 equivariant layers over s),
    b from the pooled state features, and g a non-decreasing table on the
    resource-block grid r = 0..B (more blocks never lower a user's success),
    interpolated linearly between grid points, g(0) = 0.

    g's steps are softplus(θ) ≥ 0. Where the data never go (the behaviour rarely
    gives a user more than a few times B/N) no gradient reaches θ, so `rise` (g(B),
    the total rise) is penalised by `DQLConfig.rise_penalty`: g stays flat beyond the
    data instead of keeping its initial slope, which the argmax would otherwise spend
    blocks on. Per layer Mish, optional LN."""

    hidden: int = 64
    layer_norm: bool = False
    matmul_dtype: str = "float32"
    budget: int = 100  # B: g has B + 1 grid points

    def setup(self):
        bias01 = nn.initializers.constant(0.1)
        self.layers = [
            EquivariantLayer(self.hidden, self.layer_norm, dtype, bias01)
            for dtype in ("float32", self.matmul_dtype)
        ]
        zeros = nn.initializers.zeros  # c starts uniform, b constant
        self.score = Dense(1, kernel_init=zeros)
        self.base = Dense(1, kernel_init=zeros)
        # steps softplus(−3) ≈ 0.05: a gentle initial ramp the data reshape
        self.steps = self.param("steps", nn.initializers.constant(-3.0), (self.budget,))

    def _of_state(self, s):
        """b(s) (...,) and N·c_i(s) (..., N) from s (..., N)."""
        h = s[..., None]  # (..., N, 1)
        for layer in self.layers:
            h = mish(layer(h))
        weight = jax.nn.softmax(self.score(h)[..., 0], axis=-1)  # (..., N) c_i(s)
        return self.base(h.mean(axis=-2))[..., 0], s.shape[-1] * weight

    def grid(self):
        """g(r) for r = 0..B: (B + 1,), non-decreasing, g(0) = 0."""
        return jnp.concatenate([jnp.zeros((1,)), jnp.cumsum(jax.nn.softplus(self.steps))])

    def rise(self):
        """g(B) − g(0): the quantity `rise_penalty` weighs. ()"""
        return jax.nn.softplus(self.steps).sum()

    def __call__(self, s, a):
        """s (..., N), a (..., N) → Q (...,)."""
        return self.per_user(s, a).mean(axis=-1)

    def per_user(self, s, a):
        """s (..., N), a (..., N) → b(s) + N·c_i(s)·g(r_i) (..., N), Q = their mean."""
        base, weight = self._of_state(s)
        x = jnp.clip((a + 1.0) * (self.budget / 2.0), 0.0, self.budget)  # r_i in blocks
        lo = jnp.minimum(jnp.floor(x), self.budget - 1)
        g_table = self.grid()
        i = lo.astype(jnp.int32)
        g = g_table[i] + (x - lo) * (g_table[i + 1] - g_table[i])  # (..., N)
        return base[..., None] + weight * g

    def table(self, s):
        """Every user's term at every grid allocation in one pass: s (..., N) →
        (..., N, B + 1), `per_user` at r_i = 0..B."""
        base, weight = self._of_state(s)
        return base[..., None, None] + weight[..., None] * self.grid()
