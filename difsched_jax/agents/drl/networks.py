"""Flax networks of the deep-RL baselines: Gaussian actor, state-value critic, twin Q.

Inputs are normalised states s = 2u/L - 1, (..., N); actions a in [-1, 1]^N.
Two trunks (`arch`):

- ``"mlp"``: a plain MLP on the whole vector (what the reference's SB3 agents use);
- ``"deepsets"``: permutation-equivariant layers h_i <- act(W h_i + U mean_j h_j)
  over per-user features. Users are exchangeable in this problem (same channel,
  one shared budget), so the actor's per-user outputs permute with the users
  and the critics are invariant; far fewer functions to search over.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "silu": nn.silu}
ARCHS = ("mlp", "deepsets")
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def check_net(arch: str, activation: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")


def _dense(width: int, scale: float = np.sqrt(2.0), bias: float = 0.0, use_bias=True):
    return nn.Dense(
        width,
        use_bias=use_bias,
        kernel_init=nn.initializers.orthogonal(scale),
        bias_init=nn.initializers.constant(bias),
    )


class Trunk(nn.Module):
    """x -> hidden features: (..., F) -> (..., H) for "mlp"; (..., N, F) -> (..., N, H)
    for "deepsets". Optional LayerNorm before each activation."""

    hidden: Sequence[int]
    arch: str = "mlp"
    activation: str = "tanh"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            h = _dense(width)(x)
            if self.arch == "deepsets":
                h = h + _dense(width, use_bias=False)(x.mean(axis=-2, keepdims=True))
            if self.layer_norm:
                h = nn.LayerNorm()(h)
            x = act(h)
        return x


class GaussianActor(nn.Module):
    """s (..., N) -> (mean, log_std) of the latent Gaussian, each (..., D).

    The mean head starts with near-zero weights and bias `mean_bias` (the latent
    of the equal share), so the initial policy is the equal share plus noise.
    `state_std`: log_std from a head (SAC) or a free parameter (PPO; one per user
    for "mlp", one shared for "deepsets").
    """

    hidden: Sequence[int]
    arch: str = "mlp"
    activation: str = "tanh"
    mean_bias: float = 0.0
    state_std: bool = False
    init_log_std: float = -0.5
    latent_dim: int | None = None  # "mlp" only: latent size (default N)

    @nn.compact
    def __call__(self, s):
        n = self.latent_dim or s.shape[-1]
        per_user = self.arch == "deepsets"
        h = Trunk(self.hidden, self.arch, self.activation)(s[..., None] if per_user else s)
        out = 1 if per_user else n
        mean = _dense(out, 0.01, self.mean_bias)(h)
        mean = mean[..., 0] if per_user else mean
        if self.state_std:
            log_std = _dense(out, 0.01, self.init_log_std)(h)
            log_std = jnp.clip(log_std[..., 0] if per_user else log_std, LOG_STD_MIN, LOG_STD_MAX)
        else:
            shape = (1,) if per_user else (n,)
            param = self.param("log_std", nn.initializers.constant(self.init_log_std), shape)
            log_std = jnp.broadcast_to(param, mean.shape)
        return mean, log_std


class ValueCritic(nn.Module):
    """s (..., N) -> V(s) (...,)."""

    hidden: Sequence[int]
    arch: str = "mlp"
    activation: str = "tanh"

    @nn.compact
    def __call__(self, s):
        if self.arch == "deepsets":
            h = Trunk(self.hidden, self.arch, self.activation)(s[..., None]).mean(axis=-2)
        else:
            h = Trunk(self.hidden, self.arch, self.activation)(s)
        return _dense(1, 1.0)(h)[..., 0]


class QCritic(nn.Module):
    """(s, a) -> Q(s, a) (...,)."""

    hidden: Sequence[int]
    arch: str = "mlp"
    activation: str = "relu"
    layer_norm: bool = True

    @nn.compact
    def __call__(self, s, a):
        trunk = Trunk(self.hidden, self.arch, self.activation, self.layer_norm)
        if self.arch == "deepsets":
            h = trunk(jnp.stack([s, a], axis=-1)).mean(axis=-2)
        else:
            h = trunk(jnp.concatenate([s, a], axis=-1))
        return _dense(1, 1.0)(h)[..., 0]


class TwinQ(nn.Module):
    """Two independent Q networks, vmapped over their parameters: (s, a) -> (2, ...)."""

    hidden: Sequence[int]
    arch: str = "mlp"
    activation: str = "relu"
    layer_norm: bool = True

    @nn.compact
    def __call__(self, s, a):
        twin = nn.vmap(
            QCritic,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=2,
        )
        return twin(self.hidden, self.arch, self.activation, self.layer_norm)(s, a)
