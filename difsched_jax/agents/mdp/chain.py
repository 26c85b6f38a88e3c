"""Markov-chain side of the MDP sub-agent (SPEC §3 steps 1-4), float64 NumPy.

Counts take L+1 values (0..L); a sub-agent aggregates them into K bins per
user and models n users jointly (K**n states, first user most significant).
"""

from __future__ import annotations

import numpy as np

from difsched_jax.traffic.markov import transition_matrix

__all__ = [
    "aggregate_chain",
    "aggregation_map",
    "entropy_cut_points",
    "joint_chain",
    "joint_states",
    "stationary_distribution",
    "transition_matrix",
]


def stationary_distribution(m: np.ndarray) -> np.ndarray:
    """(L+1,) least-squares solution of [Mᵀ − I; 1ᵀ] π = [0; 1] (step 2)."""
    size = m.shape[0]
    a = np.vstack([m.T - np.eye(size), np.ones((1, size))])  # (L+2, L+1)
    b = np.zeros(size + 1)
    b[-1] = 1.0
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _entropy(p: np.ndarray) -> np.ndarray:
    """−p log2 p elementwise, 0 where p <= 0 (lstsq leaves ±1e-17 on unseen counts)."""
    safe = np.where(p > 0, p, 1.0)
    return np.where(p > 0, -p * np.log2(safe), 0.0)


def entropy_cut_points(pi: np.ndarray, num_bins: int) -> np.ndarray:
    """(K−1,) prefix lengths c_1 < ... < c_{K−1} of the contiguous K-bin partition
    maximising Σ_bins H(bin mass) (step 3). A DP over cut points; among equal
    scores the smallest previous cut is kept (the reference's first maximum)."""
    size = pi.shape[0]
    if not 1 <= num_bins <= size:
        raise ValueError(f"num_bins must be in [1, {size}], got {num_bins}")
    cum = np.concatenate([[0.0], np.cumsum(pi)])  # (L+2,) mass of the first i counts
    gain = _entropy(cum[None, :] - cum[:, None])  # (L+2, L+2) H of slice [j, i)
    j_idx, i_idx = np.meshgrid(np.arange(size + 1), np.arange(size + 1), indexing="ij")
    nonempty = j_idx < i_idx  # (j, i): every bin holds at least one count
    best = np.full(size + 1, -np.inf)  # best[i]: score of the first i counts in k bins
    best[0] = 0.0
    back = np.zeros((num_bins + 1, size + 1), np.int64)
    for k in range(1, num_bins + 1):
        score = np.where(nonempty, best[:, None] + gain, -np.inf)  # (j, i)
        back[k] = np.argmax(score, axis=0)  # first maximum over j
        best = score[back[k], np.arange(size + 1)]
    cuts, i = [], size
    for k in range(num_bins, 1, -1):
        i = int(back[k, i])
        cuts.append(i)
    return np.asarray(cuts[::-1], np.int64)


def aggregation_map(cut_points: np.ndarray, window: int) -> np.ndarray:
    """(L+1,) bin of every count: searchsorted([c_1, .., c_{K−1}, L+1], u, 'left').

    A count equal to a cut point stays in the lower bin, one off from the DP's
    own slices; the reference's saved maps follow this convention (SPEC §3)."""
    edges = np.concatenate([np.asarray(cut_points, np.int64), [window + 1]])
    return np.searchsorted(edges, np.arange(window + 1), side="left").astype(np.int64)


def aggregate_chain(
    m: np.ndarray, pi: np.ndarray, amap: np.ndarray, num_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """(K, K) P̂ = (CᵀΠC)⁻¹ CᵀΠ M C and the (K,) bin masses (step 4)."""
    c = np.eye(num_bins)[amap]  # (L+1, K) one-hot bin membership
    mass = c.T @ pi  # (K,) = diag(CᵀΠC)
    if np.any(mass <= 0):
        empty = np.flatnonzero(mass <= 0).tolist()
        raise ValueError(
            f"bins {empty} have no stationary mass: the trace has too few distinct counts "
            f"for {num_bins} bins"
        )
    p_hat = (c.T * pi) @ m @ c / mass[:, None]  # (K, K)
    return p_hat, mass


def joint_chain(p_hat: np.ndarray, num_users: int) -> np.ndarray:
    """(K**n, K**n) n-fold Kronecker power: users move independently."""
    p = p_hat
    for _ in range(num_users - 1):
        p = np.kron(p, p_hat)
    return p


def joint_states(num_bins: int, num_users: int) -> np.ndarray:
    """(K**n, n) bin of each user in every joint state, first user most significant."""
    grids = np.meshgrid(*[np.arange(num_bins)] * num_users, indexing="ij")
    return np.stack(grids, axis=-1).reshape(-1, num_users)


def bin_representatives(pi: np.ndarray, amap: np.ndarray, num_bins: int) -> np.ndarray:
    """(K,) floor of the π-weighted mean count of each bin (step 5)."""
    c = np.eye(num_bins)[amap]  # (L+1, K)
    counts = np.arange(amap.shape[0], dtype=np.float64)
    return np.floor((c.T @ (pi * counts)) / (c.T @ pi))
