"""MDP sub-agent units (SPEC §3) on small synthetic problems; no data files needed."""

from __future__ import annotations

import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.agents import mdp
from difsched_jax.agents.mdp import chain, solve
from difsched_jax.cli import main
from difsched_jax.config import SliceConfig, get_env_config, get_subagent_config
from difsched_jax.evaluate.registry import resolve_policy


def _entropy_score(pi, cuts):
    edges = [0, *cuts, len(pi)]
    masses = [pi[a:b].sum() for a, b in zip(edges[:-1], edges[1:])]
    return sum(-m * np.log2(m) for m in masses if m > 0)


def test_entropy_cut_points_match_brute_force():
    rng = np.random.default_rng(0)
    pi = rng.random(12)
    pi /= pi.sum()
    best = max(itertools.combinations(range(1, 12), 3), key=lambda c: _entropy_score(pi, c))
    assert tuple(chain.entropy_cut_points(pi, 4)) == best


def test_aggregation_map_keeps_cut_point_in_lower_bin():
    amap = chain.aggregation_map(np.array([2, 5]), window=7)  # counts 0..7
    assert amap.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]


def test_stationary_distribution_of_two_state_chain():
    m = np.array([[0.9, 0.1], [0.3, 0.7]])
    np.testing.assert_allclose(chain.stationary_distribution(m), [0.75, 0.25], atol=1e-12)


def test_joint_chain_is_kronecker_power_first_user_most_significant():
    p_hat = np.array([[0.8, 0.2], [0.4, 0.6]])
    p = chain.joint_chain(p_hat, 3)  # (8, 8)
    states = chain.joint_states(2, 3)
    assert states[1].tolist() == [0, 0, 1] and states[4].tolist() == [1, 0, 0]
    i, j = 5, 2  # (1,0,1) -> (0,1,0)
    assert p[i, j] == pytest.approx(p_hat[1, 0] * p_hat[0, 1] * p_hat[1, 0])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_aggregated_chain_of_lumpable_chain_is_exact():
    # counts {0,1} and {2,3} move together: the aggregated chain is known
    m = np.array(
        [[0.5, 0.2, 0.2, 0.1], [0.1, 0.6, 0.0, 0.3], [0.3, 0.1, 0.4, 0.2], [0.2, 0.2, 0.3, 0.3]]
    )
    pi = chain.stationary_distribution(m)
    p_hat, mass = chain.aggregate_chain(m, pi, np.array([0, 0, 1, 1]), 2)
    np.testing.assert_allclose(p_hat, [[0.7, 0.3], [0.4, 0.6]], atol=1e-12)
    np.testing.assert_allclose(mass.sum(), 1.0)


def test_cost_table_loss_and_penalty():
    reps = np.array([0.0, 10.0])
    states = chain.joint_states(2, 2)
    actions = solve.action_table(budget=20, num_levels=3, num_users=2)  # levels 0, 10, 20
    cost = solve.cost_table(reps, states, actions, budget=20, sigmoid_k=0.3, sigmoid_s=10.0)
    assert cost.shape == (4, 9)
    assert np.all(cost[0, actions.sum(axis=1) <= 20] == 0.0)  # nobody sends: no loss
    row = actions.tolist().index([10.0, 10.0])
    assert cost[3, row] == pytest.approx(0.5)  # p(10) = 1/2 for both users
    over = actions.tolist().index([20.0, 20.0])
    assert cost[3, over] == pytest.approx(1 - 1 / (1 + np.exp(-3.0)) + 20.0**2)


def _in_place_loop(p, c_min, gamma, theta):
    v, sweeps = np.zeros(len(c_min)), 0
    while True:
        delta = 0.0
        for s in range(len(v)):
            old = v[s]
            v[s] = c_min[s] + gamma * p[s] @ v
            delta = max(delta, abs(old - v[s]))
        sweeps += 1
        if delta < theta:
            return v, sweeps


def test_vectorised_sweep_equals_reference_in_place_loop():
    rng = np.random.default_rng(1)
    p = chain.joint_chain(rng.dirichlet(np.ones(3), size=3), 2)  # (9, 9)
    c_min = rng.random(9)
    v_loop, sweeps_loop = _in_place_loop(p, c_min, 0.9, 1e-8)
    v, sweeps, last = solve.value_iteration(p, c_min, 0.9, 1e-8)
    assert sweeps == sweeps_loop and last < 1e-8
    np.testing.assert_allclose(v, v_loop, atol=1e-12)
    v_sync, _, _ = solve.value_iteration(p, c_min, 0.9, 1e-12, method="jacobi")
    np.testing.assert_allclose(v_sync, np.linalg.solve(np.eye(9) - 0.9 * p, c_min), atol=1e-9)
    assert jnp.zeros(1).dtype == jnp.float32  # x64 stayed local to the solver


def _small_solution(seed: int = 2):
    config = get_subagent_config(0).replace(window=20, budget=12, num_levels=3, num_bins=3)
    counts = np.clip(np.random.default_rng(seed).normal(8, 4, 600), 0, 20)
    return config, mdp.solve_subagent(counts, config)


def test_solution_shapes_and_greedy_policy():
    config, sol = _small_solution()
    assert sol.aggregation_map.shape == (21,) and sol.value.shape == (81,)
    assert sol.action_table.shape == (81, 4) and sol.policy.shape == (81,)
    q = sol.q_values()
    np.testing.assert_allclose(q.min(axis=1), sol.value, atol=1e-4)  # Bellman, up to θ/(1−γ)
    chosen = q[np.arange(81), sol.policy]
    assert np.all(chosen <= q.min(axis=1) + 1e-12)
    assert np.all(sol.cost[np.arange(81), sol.policy] <= sol.cost.min(axis=1) + 1e-12)


def test_lookup_policy_groups_in_user_order_and_jits():
    _, sol = _small_solution()
    groups = ((0, 2, 4, 6), (1, 3, 5, 7))  # interleaved groups
    params = mdp.mdp_policy_params([sol, sol], groups)
    obs = np.array([[0, 20, 5, 9, 13, 2, 20, 7], [3, 3, 3, 3, 3, 3, 3, 3]], np.int32)
    r = np.asarray(jax.jit(jax.vmap(mdp.mdp_act, (None, None, 0)))(params, None, obs))
    for row, o in zip(r, obs):
        for group in groups:
            bins = sol.aggregation_map[o[list(group)]]
            joint = int(np.ravel_multi_index(tuple(bins), (3,) * 4))
            np.testing.assert_array_equal(row[list(group)], sol.action_table[sol.policy[joint]])


def test_slice_policy_rejects_mismatched_groups():
    _, sol = _small_solution()
    config = SliceConfig(num_users=6, budget=100, flow="thumb_fr", sigmoid_k=(0.3,))
    with pytest.raises(ValueError, match="exactly 4"):
        mdp.mdp_policy_params([sol, sol], config.user_map)
    with pytest.raises(ValueError, match="no sub_agents"):
        mdp.slice_policy_params(config, {0: sol})


def test_save_load_round_trip(tmp_path):
    _, sol = _small_solution()
    path = mdp.save_subagent(tmp_path, 0, sol, {"note": "test"})
    loaded = mdp.load_subagent(path)
    for key in ("aggregation_map", "policy", "value", "action_table"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(sol, key))
    assert loaded.meta == {"note": "test"}
    with np.load(path) as data:
        assert sorted(data.files) == ["action_table", "aggregation_map", "policy", "value"]


def test_build_agent_cli_and_registry(tmp_path):
    assert main(["build-agent", "--subagent-config", "0", "--out", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "mdp_subagent0.json").read_text())
    assert meta["traffic"].startswith("synthetic:thumb_fr") and meta["sweeps"] > 0
    policy = resolve_policy(f"mdp:{tmp_path}", get_env_config(0))
    assert policy.params.state_action.shape == (2, 256, 4)
    r = policy.act(policy.params, None, jnp.full((8,), 50, jnp.int32))
    assert r.shape == (8,) and float(r.sum()) <= 120.0
    with pytest.raises(ValueError, match="build-agent --subagent-config 1"):
        resolve_policy(f"mdp:{tmp_path}", get_env_config(2))  # needs sub-agent 1
    with pytest.raises(ValueError, match="mdp:DIR"):
        resolve_policy("mdp", get_env_config(0))
