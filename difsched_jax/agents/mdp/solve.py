"""Cost table, value iteration and the greedy policy of an MDP sub-agent (SPEC §3 steps 5-6).

The transition does not depend on the action, so one Bellman sweep is
V ← min_a C(s, a) + γ P V = c_min + γ P V: linear in V. The reference sweeps
states in place (Gauss-Seidel); written for the whole sweep that is
(I − γL) V' = c_min + γ U V  (L: strictly lower part of P, U: the rest), so one
in-place sweep is the affine map V' = G c_min + γ G U V with G = (I − γL)⁻¹,
the same iterates as the reference's loop at a matrix-vector product each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.agents.mdp import chain
from difsched_jax.config import SubAgentConfig

METHODS = ("gauss-seidel", "jacobi")


def action_table(budget: int, num_levels: int, num_users: int) -> np.ndarray:
    """(N_r**n, n) joint actions over linspace(0, B, N_r), first user most significant."""
    levels = np.linspace(0.0, budget, num_levels)
    return levels[chain.joint_states(num_levels, num_users)]


def cost_table(
    representatives: np.ndarray,
    states: np.ndarray,
    actions: np.ndarray,
    budget: int,
    sigmoid_k: float,
    sigmoid_s: float,
) -> np.ndarray:
    """(S, A) approximate cost 1 − Σ u_i p(r_i) / Σ u_i (+ (Σr − B)² over budget).

    u_i = representative count of user i's bin; p uses the first sigmoid pair at
    the level r itself. A joint state in which nobody sends costs 0 (+ penalty).
    """
    u = representatives[states]  # (S, n)
    p = 1.0 / (1.0 + np.exp(-sigmoid_k * (actions - sigmoid_s)))  # (A, n)
    total = u.sum(axis=1, keepdims=True)  # (S, 1)
    # broadcast, not a matmul: an inner size of n = 4 gains nothing from (threaded) BLAS
    delivered = (u[:, None, :] * p[None, :, :]).sum(axis=-1)  # (S, A)
    loss = np.where(total > 0, 1.0 - delivered / np.where(total > 0, total, 1.0), 0.0)
    over = actions.sum(axis=1) - budget  # (A,)
    return loss + np.where(over > 0, over**2, 0.0)[None, :]


def _operator(p, c_min, gamma, method: str):
    """(A, b) with one sweep V' = A V + b: (S, S), (S,). jnp, traced in float64."""
    if method == "jacobi":  # synchronous sweep
        return gamma * p, c_min
    lower = jnp.tril(p, -1)  # new values of states already swept
    upper = p - lower  # old values (the state itself included)
    rhs = jnp.concatenate([gamma * upper, c_min[:, None]], axis=1)  # (S, S+1)
    # G [γU | c] with G = (I − γL)⁻¹: one unit-lower-triangular solve
    sol = jax.scipy.linalg.solve_triangular(
        jnp.eye(p.shape[0], dtype=p.dtype) - gamma * lower, rhs, lower=True, unit_diagonal=True
    )
    return sol[:, :-1], sol[:, -1]


@partial(jax.jit, static_argnames=("method", "max_sweeps"))
def _solve_values(p, c_min, gamma, theta, method: str, max_sweeps: int):
    a, b = _operator(p, c_min, gamma, method)

    def cond(carry):
        _, delta, sweeps = carry
        return (delta >= theta) & (sweeps < max_sweeps)

    def body(carry):
        v, _, sweeps = carry
        v_new = a @ v + b  # (S,)
        return v_new, jnp.max(jnp.abs(v_new - v)), sweeps + 1

    init = (jnp.zeros_like(b), jnp.asarray(jnp.inf, b.dtype), jnp.asarray(0, jnp.int32))
    return jax.lax.while_loop(cond, body, init)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def sweep_operator(p: np.ndarray, c_min: np.ndarray, gamma: float, method: str = "gauss-seidel"):
    """NumPy (A (S, S), b (S,)) of one sweep V' = A V + b (for checks and benchmarks)."""
    _check_method(method)
    with jax.enable_x64(True):
        a, b = _operator(
            jnp.asarray(p, jnp.float64), jnp.asarray(c_min, jnp.float64), gamma, method
        )
        return np.asarray(a), np.asarray(b)


def value_iteration(
    p: np.ndarray,
    c_min: np.ndarray,
    gamma: float,
    theta: float,
    method: str = "gauss-seidel",
    max_sweeps: int = 100_000,
) -> tuple[np.ndarray, int, float]:
    """Sweep from V = 0 until the largest change < θ; jitted, float64 (x64 only here).

    p: (S, S) joint chain; c_min: (S,) min over actions of the cost table.
    Returns (V (S,), sweeps, last change)."""
    _check_method(method)
    with jax.enable_x64(True):
        v, delta, sweeps = _solve_values(
            jnp.asarray(p, jnp.float64),
            jnp.asarray(c_min, jnp.float64),
            gamma,
            theta,
            method,
            max_sweeps,
        )
        return np.asarray(v), int(sweeps), float(delta)


@dataclass
class MDPSolution:
    """A solved sub-agent. The first four fields are the reference's saved keys."""

    aggregation_map: np.ndarray  # (L+1,) int64 bin of each count
    policy: np.ndarray  # (S,) int32 greedy action row per joint state
    value: np.ndarray  # (S,) float64 V*, cost-to-go (minimised)
    action_table: np.ndarray  # (A, n) float64 joint actions r
    cost: np.ndarray = field(repr=False)  # (S, A) cost table
    transition: np.ndarray = field(repr=False)  # (S, S) joint chain
    stationary: np.ndarray = field(repr=False)  # (L+1,) π
    cut_points: np.ndarray = field(default=None)  # (K−1,)
    representatives: np.ndarray = field(default=None)  # (K,) count per bin
    sweeps: int = 0
    last_change: float = 0.0
    gamma: float = 0.99

    def q_values(self) -> np.ndarray:
        """(S, A) Q(s, a) = C(s, a) + γ (P V)(s)."""
        return self.cost + self.gamma * (self.transition @ self.value)[:, None]


def solve_subagent(
    counts: np.ndarray, config: SubAgentConfig, method: str = "gauss-seidel"
) -> MDPSolution:
    """SPEC §3 from a (T,) count series (the train trace) to the greedy policy."""
    m = chain.transition_matrix(counts, config.window)  # (L+1, L+1)
    pi = chain.stationary_distribution(m)
    cuts = chain.entropy_cut_points(pi, config.num_bins)
    amap = chain.aggregation_map(cuts, config.window)
    p_hat, _ = chain.aggregate_chain(m, pi, amap, config.num_bins)
    p = chain.joint_chain(p_hat, config.num_users)  # (S, S)
    reps = chain.bin_representatives(pi, amap, config.num_bins)
    states = chain.joint_states(config.num_bins, config.num_users)  # (S, n)
    actions = action_table(config.budget, config.num_levels, config.num_users)
    k, s = config.sigmoid_pairs[0]
    cost = cost_table(reps, states, actions, config.budget, k, s)  # (S, A)
    c_min = cost.min(axis=1)
    value, sweeps, last = value_iteration(p, c_min, config.gamma, config.theta, method)
    # Greedy in Q = C + γPV. P does not depend on a, so this is argmin C up to
    # cost gaps below an ulp of V (~1e-15), which Q merges into ties resolved to
    # the first action, as the reference's extraction does.
    q = cost + config.gamma * (p @ value)[:, None]  # (S, A)
    return MDPSolution(
        aggregation_map=amap,
        policy=np.argmin(q, axis=1).astype(np.int32),
        value=value,
        action_table=actions,
        cost=cost,
        transition=p,
        stationary=pi,
        cut_points=cuts,
        representatives=reps,
        sweeps=sweeps,
        last_change=last,
        gamma=config.gamma,
    )


def timed_solve(counts, config: SubAgentConfig, method: str = "gauss-seidel"):
    """(solution, seconds) of one solve; call once before to exclude compilation."""
    t0 = time.perf_counter()
    sol = solve_subagent(counts, config, method)
    return sol, time.perf_counter() - t0
