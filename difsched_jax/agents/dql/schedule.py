"""VP noise schedule and the sinusoidal step embedding (SPEC §5).

The schedule is a pure function of static settings (T, β_min, β_max), so it is
computed once in NumPy and enters jitted code as constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np


def vp_betas(num_steps: int, beta_min: float = 0.1, beta_max: float = 10.0) -> np.ndarray:
    """β_i = 1 − exp(−β_min/T − ½(β_max − β_min)(2i − 1)/T²), i = 1..T. (T,) float64."""
    t = float(num_steps)
    i = np.arange(1, num_steps + 1, dtype=np.float64)
    return 1.0 - np.exp(-beta_min / t - 0.5 * (beta_max - beta_min) * (2.0 * i - 1.0) / t**2)


@dataclass(frozen=True)
class Schedule:
    """Per-step constants, index i - 1 for step i = 1..T. All (T,) float32 NumPy."""

    beta: np.ndarray
    alpha: np.ndarray
    alpha_bar: np.ndarray

    @property
    def num_steps(self) -> int:
        return int(self.beta.shape[0])

    @property
    def alpha_bar_prev(self) -> np.ndarray:
        """ᾱ_{i-1} with ᾱ_0 = 1. (T,)"""
        return np.concatenate([[1.0], self.alpha_bar[:-1]]).astype(np.float32)


def make_schedule(num_steps: int, beta_min: float = 0.1, beta_max: float = 10.0) -> Schedule:
    beta = vp_betas(num_steps, beta_min, beta_max)
    alpha = 1.0 - beta
    alpha_bar = np.cumprod(alpha)
    return Schedule(
        beta=beta.astype(np.float32),
        alpha=alpha.astype(np.float32),
        alpha_bar=alpha_bar.astype(np.float32),
    )


def timestep_embedding(t, dim: int = 128, max_period: float = 10_000.0):
    """Sinusoidal embedding [cos(t f), sin(t f)], f_k = max_period^(−k/half). (..., dim)"""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = jnp.asarray(t, jnp.float32)[..., None] * freqs
    emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)
    if dim % 2:
        emb = jnp.concatenate([emb, jnp.zeros_like(emb[..., :1])], axis=-1)
    return emb
