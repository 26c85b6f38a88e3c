"""difsched_jax: radio-resource scheduling with offline RL and diffusion policies, in JAX."""

__version__ = "0.1.0"
