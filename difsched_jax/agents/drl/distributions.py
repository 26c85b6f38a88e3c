"""Squashed Gaussian policies: a Gaussian on a latent z, squashed to an action in [-1, 1]^N.

Two squashes (SPEC §1 action a, r = (a + 1) B / 2):

- ``"tanh"``: z in R^N, a = tanh(z). The latent mean is biased so that the
  initial mean action is the equal share a = 2/N - 1 (otherwise a = 0 asks for
  B/2 per user, N/2 times the budget).
- ``"softmax"``: z in R^N (one logit per user), p = softmax(z), a = 2p - 1, so
  r = pB always spends exactly the budget (the budget rule never cuts) and
  equal logits are the equal share. The map is not one-to-one (adding a
  constant to every logit changes nothing), so the action has no density:
  PPO, which only needs latent likelihood ratios, can use it; SAC cannot.

`sample_tanh` returns the log-density of the tanh-squashed action,
log N(z) - sum log(1 - tanh(z)^2).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

SQUASHES = ("tanh", "softmax")
LOG_2PI = math.log(2.0 * math.pi)


def check_squash(squash: str) -> None:
    if squash not in SQUASHES:
        raise ValueError(f"squash must be one of {SQUASHES}, got {squash!r}")


def equal_share_bias(squash: str, num_users: int) -> float:
    """Latent value whose squash is the equal share a = 2/N - 1 per user."""
    check_squash(squash)
    if squash == "softmax":
        return 0.0
    return float(math.atanh(2.0 / num_users - 1.0)) if num_users > 1 else 3.0


def squash_latent(z: jax.Array, squash: str) -> jax.Array:
    """(..., N) latent -> (..., N) action in [-1, 1]."""
    if squash == "tanh":
        return jnp.tanh(z)
    return 2.0 * jax.nn.softmax(z, axis=-1) - 1.0


def tanh_log_det(z: jax.Array) -> jax.Array:
    """(..., N) -> (...,) log|det d tanh(z) / dz| = sum log(1 - tanh(z)^2), stably."""
    return jnp.sum(2.0 * (math.log(2.0) - z - jax.nn.softplus(-2.0 * z)), axis=-1)


def gaussian_log_prob(z: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """(..., N) -> (...,) log N(z; mean, exp(log_std)^2), diagonal."""
    std_z = (z - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * std_z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """(..., N) -> (...,) entropy of the latent Gaussian."""
    return jnp.sum(log_std + 0.5 * (LOG_2PI + 1.0), axis=-1)


def sample_tanh(key: jax.Array, mean: jax.Array, log_std: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterised tanh-Gaussian draw: (action (..., N), log pi(action) (...,))."""
    z = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    return jnp.tanh(z), gaussian_log_prob(z, mean, log_std) - tanh_log_det(z)
