"""Squashed Gaussian policies: a Gaussian on a latent z, squashed to an action in [-1, 1]^N.

Three squashes (SPEC §1 action a, r = (a + 1) B / 2):

- ``"tanh"``: z in R^N, a = tanh(z). The latent mean is biased so that the
  initial mean action is the equal share a = 2/N - 1 (otherwise a = 0 asks for
  B/2 per user, N/2 times the budget).
- ``"softmax"``: z in R^N (one logit per user), p = softmax(z), a = 2p - 1, so
  r = pB always spends exactly the budget (the budget rule never cuts) and
  equal logits are the equal share. Adding a constant to every logit changes
  nothing, so the action has no density: fine for PPO, which only needs latent
  likelihood ratios (and keeps users exchangeable), not for SAC.
- ``"simplex"``: the same allocation with the last logit pinned to 0, z in
  R^(N-1): a bijection onto the open simplex, so the action has a density
  (SAC's entropy). The map z -> (a_1..a_{N-1}) has det = 2^(N-1) prod_i p_i.
  Unlike tanh, whose entropy is largest at a = 0 (N/2 budgets asked for), the
  simplex's entropy pulls towards the equal share.

`sample` returns the log-density of the squashed action, log N(z) - log|det|.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

SQUASHES = ("tanh", "softmax", "simplex")
LOG_2PI = math.log(2.0 * math.pi)


def check_squash(squash: str) -> None:
    if squash not in SQUASHES:
        raise ValueError(f"squash must be one of {SQUASHES}, got {squash!r}")


def latent_dim(squash: str, num_users: int) -> int:
    check_squash(squash)
    return num_users - 1 if squash == "simplex" else num_users


def equal_share_bias(squash: str, num_users: int) -> float:
    """Latent value whose squash is the equal share a = 2/N - 1 per user."""
    check_squash(squash)
    if squash != "tanh":
        return 0.0
    return float(math.atanh(2.0 / num_users - 1.0)) if num_users > 1 else 3.0


def log_volume(squash: str, num_users: int) -> float:
    """Log volume of the action set in the density's coordinates: the largest
    entropy a policy can have. [-1, 1]^N: N log 2; simplex 2p - 1 in its first
    N-1 coordinates: (N-1) log 2 - log (N-1)!."""
    check_squash(squash)
    if squash == "simplex":
        return (num_users - 1) * math.log(2.0) - math.lgamma(num_users)
    return num_users * math.log(2.0)


def _logits(z: jax.Array, squash: str) -> jax.Array:
    if squash == "simplex":
        return jnp.concatenate([z, jnp.zeros(z.shape[:-1] + (1,), z.dtype)], axis=-1)
    return z


def squash_latent(z: jax.Array, squash: str) -> jax.Array:
    """(..., D) latent -> (..., N) action in [-1, 1]."""
    if squash == "tanh":
        return jnp.tanh(z)
    return 2.0 * jax.nn.softmax(_logits(z, squash), axis=-1) - 1.0


def log_det(z: jax.Array, squash: str) -> jax.Array:
    """(..., D) -> (...,) log|det d squash / dz| of the bijective squashes."""
    if squash == "tanh":  # sum log(1 - tanh(z)^2), written stably
        return jnp.sum(2.0 * (math.log(2.0) - z - jax.nn.softplus(-2.0 * z)), axis=-1)
    if squash == "simplex":
        log_p = jax.nn.log_softmax(_logits(z, squash), axis=-1)
        return jnp.sum(log_p, axis=-1) + z.shape[-1] * math.log(2.0)
    raise ValueError(f"squash {squash!r} is not one-to-one: the action has no density")


def gaussian_log_prob(z: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """(..., D) -> (...,) log N(z; mean, exp(log_std)^2), diagonal."""
    std_z = (z - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * std_z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """(..., D) -> (...,) entropy of the latent Gaussian."""
    return jnp.sum(log_std + 0.5 * (LOG_2PI + 1.0), axis=-1)


def sample(
    key: jax.Array, mean: jax.Array, log_std: jax.Array, squash: str
) -> tuple[jax.Array, jax.Array]:
    """Reparameterised draw: (action (..., N), log pi(action) (...,))."""
    z = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    return squash_latent(z, squash), gaussian_log_prob(z, mean, log_std) - log_det(z, squash)
