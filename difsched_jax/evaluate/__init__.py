"""Vectorised evaluation, confidence intervals, plots and reports.

The names below are imported on first use (plots and reports load matplotlib).
"""

from difsched_jax._lazy import lazy_exports

_EXPORTS = {
    "EvalResult": "difsched_jax.evaluate.core",
    "evaluate_policy": "difsched_jax.evaluate.core",
    "oracle_gap": "difsched_jax.evaluate.core",
    "PolicyRow": "difsched_jax.evaluate.compare",
    "compare_policies": "difsched_jax.evaluate.compare",
    "comparison_payload": "difsched_jax.evaluate.compare",
    "eval_trace": "difsched_jax.evaluate.compare",
    "format_table": "difsched_jax.evaluate.compare",
    "parse_policy_names": "difsched_jax.evaluate.compare",
    "ResolvedPolicy": "difsched_jax.evaluate.registry",
    "resolve_policy": "difsched_jax.evaluate.registry",
    "mean_ci95": "difsched_jax.evaluate.stats",
    "plot_comparison": "difsched_jax.evaluate.plots",
    "plot_loss_histogram": "difsched_jax.evaluate.plots",
    "plot_allocations": "difsched_jax.evaluate.report",
    "render_report": "difsched_jax.evaluate.report",
    "results_table": "difsched_jax.evaluate.report",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
