"""One command from traffic to report: `run_pipeline` (and `difsched pipeline`)."""

from difsched_jax.pipeline.presets import PRESETS, Preset, get_preset
from difsched_jax.pipeline.run import run_pipeline

__all__ = ["PRESETS", "Preset", "get_preset", "run_pipeline"]
