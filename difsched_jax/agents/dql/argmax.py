"""The additive critic's exact best allocation that spends B (critic_argmax).

With an equivariant critic Q(s, a) = mean_i q_i(s, a_i) and no cross-user action
terms, the allocation that maximises Q under Σ_i r_i = B (r_i integer resource
blocks, as the env's grid) is a resource-allocation knapsack: a max-plus
convolution over users, O(N·B²) per state, solved exactly by dynamic programming.
The actor's DDIM candidates and this one are then ranked by the critic as usual.
In practice this one nearly always ranks first, so the critic decides: its quality,
not the actor's, sets the loss (README, "What moved the number").

Shapes: s (M, N) states; values (M, N, B + 1) (q_i at r = 0..B); r (M, N).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from difsched_jax.agents.dql.config import DQLConfig
from difsched_jax.agents.dql.networks import critic_grid_table, critic_per_user


def best_allocation(values):
    """values (M, N, G) with G = B + 1 → integer r (M, N), Σ_i r_i = B, maximising
    Σ_i values[m, i, r_i]. Ties go to the smaller share for the earlier user."""
    m, n, g = values.shape
    units = jnp.arange(g)
    taken = units[:, None] - units[None, :]  # [u, k]: units left for the earlier users
    feasible = taken >= 0

    def add_user(best, v):  # best (M, G): max over users so far of spending u units
        cand = jnp.where(feasible, best[:, jnp.clip(taken, 0)] + v[:, None, :], -jnp.inf)
        return cand.max(-1), cand.argmax(-1)  # (M, G), (M, G) this user's units

    first = values[:, 0]  # (M, G)
    _, choice = jax.lax.scan(add_user, first, jnp.moveaxis(values[:, 1:], 1, 0))

    def back(left, ch):  # from the last user down: its units, then what is left
        k = jnp.take_along_axis(ch, left[:, None], axis=1)[:, 0]
        return left - k, k

    left, ks = jax.lax.scan(back, jnp.full((m,), g - 1), choice, reverse=True)
    return jnp.concatenate([left[:, None], jnp.moveaxis(ks, 0, 1)], axis=1)


def per_user_table(critic, cfg: DQLConfig, s):
    """q_i(s, r) for r = 0..B, averaged over the 2K members: (M, N, B + 1). The
    weighted critic gives it in one pass; the additive one takes one pass per level,
    every user at level r at once (no cross-user action terms)."""
    if cfg.critic_structure == "weighted":
        return critic_grid_table(critic, cfg, s).mean((0, 1))
    g = int(cfg.budget) + 1
    levels = 2.0 * jnp.arange(g, dtype=jnp.float32) / cfg.budget - 1.0  # (G,) actions

    def at(level):
        a = jnp.full(s.shape, level)
        return critic_per_user(critic, cfg, s, a).mean((0, 1))  # (M, N)

    return jnp.moveaxis(jax.lax.map(at, levels), 0, -1)


def critic_argmax_action(critic, cfg: DQLConfig, s):
    """The critic's best exact-B allocation as an action in [−1, 1]: (M, N)."""
    r = best_allocation(per_user_table(critic, cfg, s))
    return 2.0 * r.astype(jnp.float32) / cfg.budget - 1.0
