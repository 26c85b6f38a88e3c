"""One step path and one reward: the deep-RL adapter (`vec_env.step_slices`) is the
rollout's `step_window`, which gives what a vmapped `env.step` gives; every record
carries the env's reward, and the NumPy reference uses the same definition."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.agents.drl.vec_env import reset_slices, step_slices
from difsched_jax.agents.heuristics import heuristic_params, random_policy
from difsched_jax.config import get_env_config
from difsched_jax.env import loss_to_reward, make_env_for, rollout, step
from difsched_jax.env.numpy_reference import VectorizedSlices, reference_args

S = 16


def _env(episode_len=3):
    cfg = get_env_config(0)
    return cfg, *make_env_for(cfg, None, "test", episode_len=episode_len)


def test_adapter_steps_as_a_vmapped_env_step():
    """Random actions over [-1.5, 1.5] (over budget, outside the box) for 5 windows with
    3-window episodes: states, rewards, losses and ends agree exactly."""
    _, spec, params = _env()
    state = reset_slices(jax.random.key(0), params, spec, S)
    ref_state = state
    vstep = jax.jit(jax.vmap(step, in_axes=(0, 0, 0, None, None)), static_argnums=4)
    adapter = jax.jit(step_slices, static_argnums=4)
    ends = 0
    for t in range(5):
        key = jax.random.key(100 + t)
        action = jax.random.uniform(jax.random.key(t), (S, spec.num_users), minval=-1.5, maxval=1.5)
        out = adapter(key, state, action, params, spec)
        r = (jnp.clip(action, -1.0, 1.0) + 1.0) * params.budget.astype(jnp.float32) / 2.0
        _, ref_state, reward, done, info = vstep(
            jax.random.split(key, S), ref_state, r, params, spec
        )
        for a, b in zip(jax.tree.leaves(out.next_state), jax.tree.leaves(ref_state)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_array_equal(np.asarray(out.reward), np.asarray(reward))
        np.testing.assert_array_equal(np.asarray(out.loss), np.asarray(info["loss"]))
        np.testing.assert_array_equal(np.asarray(out.done), np.asarray(done))
        state = out.next_state
        ends += int(np.asarray(done).all())
    assert ends == 1  # window 3 ends every episode: the reset was exercised


def test_every_record_carries_the_envs_reward():
    cfg, spec, params = _env(episode_len=20)
    rec = rollout(
        random_policy, heuristic_params(cfg.budget), params, spec, jax.random.key(1), S, 20
    )
    assert rec.reward.dtype == jnp.float32 and rec.reward.shape == rec.loss.shape
    np.testing.assert_array_equal(np.asarray(rec.reward), np.asarray(loss_to_reward(rec.loss)))
    assert float(np.asarray(rec.loss).std()) > 0  # not a constant: the check means something
    ref = VectorizedSlices(reference_args(params, spec), S, seed=0)
    _, reward, _, info = ref.step(np.full((S, cfg.num_users), 1.5 * cfg.budget / cfg.num_users))
    np.testing.assert_array_equal(reward, loss_to_reward(info["loss"]))
    assert (reward < 1).any()  # over budget: some packets were lost
