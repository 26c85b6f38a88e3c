"""JAX's persistent compilation cache for pipeline runs.

Most of a short run is XLA compilation (the Diffusion-QL update, its rollouts,
one evaluation rollout per policy). Kept on disk, compiled programs are shared
by the runs with and without behaviour cloning (their programs coincide), by a
resumed run and by the next run with another seed.
"""

from __future__ import annotations

import os


def default_cache_dir() -> str:
    """$JAX_COMPILATION_CACHE_DIR, else $XDG_CACHE_HOME (~/.cache)/difsched_jax/xla."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return os.environ["JAX_COMPILATION_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "difsched_jax", "xla")


def use_compile_cache(path: str | os.PathLike | None) -> str | None:
    """Keep compiled programs in `path` from now on (None: no persistent cache).
    Returns the previous folder, to restore it later."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    previous = jax.config.jax_compilation_cache_dir
    compilation_cache.reset_cache()  # JAX decides once whether to use a cache: decide again
    jax.config.update("jax_compilation_cache_dir", None if path is None else os.fspath(path))
    return previous
