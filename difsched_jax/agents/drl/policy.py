"""A trained actor as a policy of the common interface ``act(params, key, obs) -> r``."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from difsched_jax.agents.drl.distributions import (
    check_squash,
    equal_share_bias,
    latent_dim,
    squash_latent,
)
from difsched_jax.agents.drl.networks import GaussianActor, check_net
from difsched_jax.env import normalize_obs


@dataclass(frozen=True)
class ActorSpec:
    """Static description of an actor (hashable: one compile per spec)."""

    num_users: int
    window: int
    hidden: tuple[int, ...] = (64, 64)
    arch: str = "mlp"
    activation: str = "tanh"
    squash: str = "softmax"
    state_std: bool = False
    init_log_std: float = -0.5

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        check_squash(self.squash)
        check_net(self.arch, self.activation)
        if self.arch == "deepsets" and self.squash == "simplex":
            raise ValueError('squash "simplex" pins the last user: use arch "mlp"')

    def module(self) -> GaussianActor:
        return GaussianActor(
            hidden=self.hidden,
            arch=self.arch,
            activation=self.activation,
            mean_bias=equal_share_bias(self.squash, self.num_users),
            state_std=self.state_std,
            init_log_std=self.init_log_std,
            latent_dim=latent_dim(self.squash, self.num_users),
        )

    def mean_action(self, actor_params, s: jax.Array) -> jax.Array:
        """(..., N) state -> (..., N) deterministic action: the squashed latent mean."""
        mean, _ = self.module().apply({"params": actor_params}, s)
        return squash_latent(mean, self.squash)


@dataclass(frozen=True)
class DeterministicPolicy:
    """act(policy_params, key, obs) -> r for one slice; policy_params =
    {"actor": actor params, "budget": () float32}. Uses the mean action."""

    spec: ActorSpec

    def __call__(self, policy_params, key: jax.Array, obs: jax.Array) -> jax.Array:
        del key
        s = normalize_obs(obs, self.spec.window)  # (N,)
        a = self.spec.mean_action(policy_params["actor"], s)
        budget = jnp.asarray(policy_params["budget"], jnp.float32)
        return (a + 1.0) * budget / 2.0  # (N,) resource blocks


def policy_params(actor_params, budget) -> dict:
    return {"actor": actor_params, "budget": jnp.asarray(budget, jnp.float32)}
