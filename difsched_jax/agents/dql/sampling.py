"""Samplers (DDPM, DDIM(η)) and the actor's training terms (SPEC §5).

Samplers never use dropout (the reference left it on while acting; we do not).
The state and step parts of the actor's first layer are computed once per call
and reused by every step: only a_t @ W_a and the trunk run inside the loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.agents.dql.config import DQLConfig
from difsched_jax.agents.dql.networks import make_actor
from difsched_jax.agents.dql.schedule import make_schedule

BOX = 1.0  # the action box [−1, 1]


def space_scale(config: DQLConfig) -> float:
    """How the actor's diffusion space x relates to the action a: x = k·a + (k − 1).
    "box": k = 1, x = a. "fair_share": k = N/2, so x = r/(B/N) − 1, the allocation as a
    deviation from equal share in units of the fair share B/N. One resource block is then
    N/B in x rather than 2/B (4x larger at 8 users, 10x at 20), so the same denoising
    error misplaces fewer blocks. The box [−1, 1] maps to [−1, 2k − 1]."""
    return config.action_dim / 2.0 if config.actor_space == "fair_share" else 1.0


def to_space(config: DQLConfig, a):
    k = space_scale(config)
    return a if k == 1.0 else k * a + (k - 1.0)


def from_space(config: DQLConfig, x):
    k = space_scale(config)
    return x if k == 1.0 else (x - (k - 1.0)) / k


def _space_box(config: DQLConfig) -> tuple[float, float]:
    k = space_scale(config)
    return k * -BOX + (k - 1.0), k * BOX + (k - 1.0)  # to_space of the box's ends


def schedule_of(config: DQLConfig):
    return make_schedule(config.num_steps, config.beta_min, config.beta_max)


def sample_steps(config: DQLConfig, steps: int | None = None) -> np.ndarray:
    """The diffusion steps a sampler visits, increasing: all of 1..T (steps None or T),
    or `steps` of them spread evenly, T always included (a few-step DDIM; each is one
    network evaluation). (k,) int."""
    total = config.num_steps
    if steps is None or steps >= total:
        return np.arange(1, total + 1)
    if steps < 1:
        raise ValueError(f"sampler steps must be ≥ 1, got {steps}")
    return np.unique(np.round(np.linspace(total, 1, steps)).astype(int))


def _reverse_loop(config: DQLConfig, actor_params, s, a_init, noise, coefs, steps=None):
    """a ← c_a·a + c_eps·ε(a, s, t) + c_z·z_t for t = T..1. coefs: three (T,) arrays in
    step order 1..T; noise (T, B, A). Returns (B, A)."""
    actor = make_actor(config)
    cond_s = actor.apply(actor_params, s, method="condition")  # (B, H) or (B, N, H)
    table = actor.apply(actor_params, method="step_table")  # (T+1, H)
    c_a, c_eps, c_z = coefs

    def body(a, xs):
        t_row, ca, ce, cz, z = xs
        eps = actor.apply(actor_params, a, cond_s + t_row, method="denoise")
        return ca * a + ce * eps + cz * z, None

    rows = table[1:] if steps is None else table[steps]
    xs = (rows, c_a, c_eps, c_z, noise)
    xs = jax.tree.map(lambda x: x[::-1], xs)  # run steps T..1
    a, _ = jax.lax.scan(body, a_init, xs)
    return a


def _clipped_loop(config: DQLConfig, actor_params, s, a_init, noise, coefs, steps, ab):
    """a ← k_x0·clip(x̂0) + k_a·a + c_z·z_t for the visited steps t (decreasing), x̂0 =
    (a − sqrt(1 − ᾱ_t)·ε)/sqrt(ᾱ_t) the step's prediction of the clean action, clipped to
    the action box (Diffusion-QL's `clip_denoised`). coefs: (k_x0, k_a, c_z), three (k,)
    arrays in step order; steps (k,) the visited steps; ab (k,) their ᾱ."""
    actor = make_actor(config)
    cond_s = actor.apply(actor_params, s, method="condition")
    table = actor.apply(actor_params, method="step_table")[steps]
    lo, hi = _space_box(config)

    def body(a, xs):
        t_row, ab_t, kx, ka, cz, z = xs
        eps = actor.apply(actor_params, a, cond_s + t_row, method="denoise")
        x0 = jnp.clip((a - jnp.sqrt(1 - ab_t) * eps) / jnp.sqrt(ab_t), lo, hi)
        return kx * x0 + ka * a + cz * z, None

    xs = (table, ab, *coefs, noise)
    xs = jax.tree.map(lambda x: x[::-1], xs)  # run steps T..1
    a, _ = jax.lax.scan(body, a_init, xs)
    return a


def ddim_sample(config: DQLConfig, actor_params, key, s, eta, clip: bool = True, steps=None):
    """DDIM(η) over all T steps (or `steps` of them, see `sample_steps`), started as the
    reference at randn·η·sqrt(1 − ᾱ_T). s (B, S), eta () → actions (B, A), clipped to
    [−1, 1]. η = 0 is deterministic. With `config.clip_denoised` every step's x̂0 is
    clipped to the box first. Network evaluations per sample: the number of steps."""
    sch = schedule_of(config)
    visited = sample_steps(config, steps)  # (k,) increasing
    ab_np = sch.alpha_bar[visited - 1]
    ab = jnp.asarray(ab_np)  # (k,)
    ab_prev = jnp.asarray(np.concatenate([[1.0], ab_np[:-1]]).astype(np.float32))
    eta = jnp.asarray(eta, jnp.float32)
    sigma = eta * jnp.sqrt((1 - ab_prev) / (1 - ab)) * jnp.sqrt(1 - ab / ab_prev)
    # x0_pred·sqrt(ab_prev) + direction + noise, folded into coefficients of a and ε
    c_a = jnp.sqrt(ab_prev / ab)
    c_eps = -jnp.sqrt(ab_prev) * jnp.sqrt(1 - ab) / jnp.sqrt(ab) + jnp.sqrt(
        jnp.maximum(1 - ab_prev - sigma**2, 0.0)
    )
    k0, k1 = jax.random.split(key)
    shape = s.shape[:-1] + (config.action_dim,)
    a0 = jax.random.normal(k0, shape) * eta * np.sqrt(1 - sch.alpha_bar[-1])
    noise = jax.random.normal(k1, (len(visited),) + shape)
    if config.clip_denoised:
        # the same step written in x̂0 = (a − sqrt(1 − ᾱ)ε)/sqrt(ᾱ): ε = (a − sqrt(ᾱ)x̂0)/sqrt(1 − ᾱ)
        direction = jnp.sqrt(jnp.maximum(1 - ab_prev - sigma**2, 0.0))
        k_x0 = jnp.sqrt(ab_prev) - direction * jnp.sqrt(ab) / jnp.sqrt(1 - ab)
        k_a = direction / jnp.sqrt(1 - ab)
        coefs = (k_x0, k_a, sigma)
        a = _clipped_loop(config, actor_params, s, a0, noise, coefs, visited, ab)
    else:
        coefs = (c_a, c_eps, sigma)
        a = _reverse_loop(config, actor_params, s, a0, noise, coefs, visited)
    a = from_space(config, a)
    return jnp.clip(a, -1.0, 1.0) if clip else a


def ddpm_sample(config: DQLConfig, actor_params, key, s, clip: bool = True):
    """Ancestral DDPM as the reference: start randn·sqrt(1 − ᾱ_T), mean
    (a − β_i/sqrt(1 − ᾱ_i)·ε)/sqrt(α_i), noise sqrt(β_i)·z except at the last step."""
    sch = schedule_of(config)
    beta, alpha, ab = sch.beta, sch.alpha, sch.alpha_bar
    c_a = 1.0 / np.sqrt(alpha)
    c_eps = -beta / np.sqrt(1 - ab) / np.sqrt(alpha)
    c_z = np.sqrt(beta)
    c_z[0] = 0.0
    k0, k1 = jax.random.split(key)
    shape = s.shape[:-1] + (config.action_dim,)
    a0 = jax.random.normal(k0, shape) * np.sqrt(1 - ab[-1])
    noise = jax.random.normal(k1, (config.num_steps,) + shape)
    coefs = tuple(jnp.asarray(c, jnp.float32) for c in (c_a, c_eps, c_z))
    a = from_space(config, _reverse_loop(config, actor_params, s, a0, noise, coefs))
    return jnp.clip(a, -1.0, 1.0) if clip else a


def _noise_to_random_step(config: DQLConfig, key, a0):
    """q(x_t | x0) at a uniform step t ∈ 1..T, x0 the action a0 in the actor's space:
    (t (B,), noise, x_t, ᾱ_t (B, 1))."""
    sch = schedule_of(config)
    a0 = to_space(config, a0)
    k_t, k_n = jax.random.split(key)
    t = jax.random.randint(k_t, a0.shape[:-1], 1, config.num_steps + 1)
    ab = jnp.asarray(sch.alpha_bar)[t - 1][..., None]
    noise = jax.random.normal(k_n, a0.shape)
    return t, noise, jnp.sqrt(ab) * a0 + jnp.sqrt(1 - ab) * noise, ab


def _one_shot(config: DQLConfig, a_t, eps, ab, noise):
    """â0 = (a_t − sqrt(1 − ᾱ_t)·ε)/sqrt(ᾱ_t); â1 = sqrt(α_1)·â0 + sqrt(1 − α_1)·noise,
    in the actor's space; returned as actions."""
    alpha1 = float(schedule_of(config).alpha[0])
    x0_hat = (a_t - jnp.sqrt(1 - ab) * eps) / jnp.sqrt(ab)
    x1_hat = np.sqrt(alpha1) * x0_hat + np.sqrt(1 - alpha1) * noise
    return from_space(config, x0_hat), from_space(config, x1_hat)


def _train_eps(config: DQLConfig, actor_params, key, a_t, s, t):
    return make_actor(config).apply(actor_params, a_t, s, t, dropout_key=key)


def bc_loss(config: DQLConfig, actor_params, key, s, a0):
    """Noise-prediction MSE at a uniform step t ∈ 1..T (dropout on). Scalar."""
    k_n, k_d = jax.random.split(key)
    t, noise, a_t, _ = _noise_to_random_step(config, k_n, a0)
    eps = _train_eps(config, actor_params, k_d, a_t, s, t)
    return jnp.mean((eps - noise) ** 2)


def approximate_action(config: DQLConfig, actor_params, key, s, a0):
    """Noise a0 to a uniform step, denoise in one shot: â0, and â1 = sqrt(α_1)·â0 +
    sqrt(1 − α_1)·(same noise). Both (B, A); gradients flow into the actor."""
    k_n, k_d = jax.random.split(key)
    t, noise, a_t, ab = _noise_to_random_step(config, k_n, a0)
    eps = _train_eps(config, actor_params, k_d, a_t, s, t)
    return _one_shot(config, a_t, eps, ab, noise)


def bc_loss_and_approximate_action(config: DQLConfig, actor_params, key, s, a0, s_bc, a0_bc):
    """`approximate_action` on (s, a0) and `bc_loss` on (s_bc, a0_bc) with one forward
    pass over both batches stacked (fewer, larger matmuls). Returns (L_bc, â0, â1)."""
    k_n, k_d = jax.random.split(key)
    b = a0.shape[0]
    a_all = jnp.concatenate([a0, a0_bc])  # (B + B_bc, A)
    t, noise, a_t, ab = _noise_to_random_step(config, k_n, a_all)
    eps = _train_eps(config, actor_params, k_d, a_t, jnp.concatenate([s, s_bc]), t)
    l_bc = jnp.mean((eps[b:] - noise[b:]) ** 2)
    a0_hat, a1_hat = _one_shot(config, a_t[:b], eps[:b], ab[:b], noise[:b])
    return l_bc, a0_hat, a1_hat


def entropy_loss(config: DQLConfig, actor_params, key, s, a0_hat, a1_hat):
    """Gaussian NLL of â0 under the one-step reverse N(μ(â1), 1 − ᾱ_1) (â0, â1 held fixed;
    the gradient reaches the actor through ε(â1, s, 1)). Scalar."""
    sch = schedule_of(config)
    a0 = to_space(config, jax.lax.stop_gradient(a0_hat))
    a1 = to_space(config, jax.lax.stop_gradient(a1_hat))
    t1 = jnp.ones(a1.shape[:-1], jnp.int32)
    eps = _train_eps(config, actor_params, key, a1, s, t1)
    ab1 = float(sch.alpha_bar[0])
    mu = (a1 - np.sqrt(1 - ab1) * eps) / np.sqrt(ab1)
    var = 1 - ab1
    return jnp.mean(0.5 * ((a0 - mu) ** 2 / var + np.log(2 * np.pi * var)))
