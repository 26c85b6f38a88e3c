"""Compare several policies on one environment: one table, one payload, one chart.

The CLI's ``evaluate`` and the pipeline report both call `compare_policies`.
Every policy runs with the same key, hence the same cursors, channel draws and
packet draws where the allocations agree (common random numbers): differences
between rows are less noisy than the intervals of the rows suggest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from difsched_jax.config import SliceConfig
from difsched_jax.env import make_env
from difsched_jax.env.types import OBS_MODES
from difsched_jax.evaluate.core import EvalResult, evaluate_policy
from difsched_jax.evaluate.registry import EvalContext, resolve_policy
from difsched_jax.evaluate.stats import mean_ci95
from difsched_jax.traffic import load_trace
from difsched_jax.traffic.trace import SPLITS, Trace


def eval_trace(
    config: SliceConfig, traffic_dir=None, alignment: str = "reference", seed: int = 0
) -> Trace:
    """The trace a config is evaluated on: real (``traffic_dir``) or synthetic
    (``seed``), with losses paired to observations as `alignment` says.

    "reference" (what SPEC §1's table used): a window observed through the
    prediction of window t loses packets of window t-1 (the file's
    ``trafficSource`` series); "aligned": of window t. See `traffic.alignment`.
    """
    return load_trace(config.flow, config.window, traffic_dir, seed, alignment)


# yardsticks every row is paired with, when they are evaluated beside it
PAIRED_REFERENCES = ("oracle-bayes", "oracle")


@dataclass
class PolicyRow:
    name: str
    obs: str  # observation mode actually used (oracle-perfect forces "perfect")
    result: EvalResult
    # reference name -> (mean, 95 % half-width) of this row's per-slice loss minus the
    # reference's: every policy sees the same slices, so the pairs are over slices
    paired: dict = field(default_factory=dict)

    def summary(self) -> dict:
        paired = {ref: {"mean": m, "ci95": h} for ref, (m, h) in self.paired.items()}
        return {
            "policy": self.name,
            "obs": self.obs,
            **self.result.summary(),
            "paired_difference": paired,
            "slice_losses": [float(x) for x in self.result.slice_means],
        }


def add_paired(rows: list[PolicyRow], names: list[str]) -> None:
    """Fill each row's `paired` against the `PAIRED_REFERENCES` among them. names[i]:
    the registry name of rows[i] (rows may carry display labels)."""
    for ref in PAIRED_REFERENCES:
        if ref not in names:
            continue
        base = np.asarray(rows[names.index(ref)].result.slice_means, np.float64)
        for row in rows:
            diff = np.asarray(row.result.slice_means, np.float64) - base
            row.paired[ref] = mean_ci95(diff)


def parse_policy_names(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"equal, oracle"`` or a list -> ["equal", "oracle"]; rejects empty and repeated names."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out = [n.strip() for n in items if n.strip()]
    if not out:
        raise ValueError(
            f"no policy named in {names!r}; expected comma-separated names, e.g. equal,oracle"
        )
    repeated = sorted({n for n in out if out.count(n) > 1})
    if repeated:
        raise ValueError(f"policy listed more than once: {', '.join(repeated)}")
    return out


def check_sizes(num_slices: int, num_windows: int, episode_len: int | None) -> None:
    """Clear messages for sizes the rollout cannot use."""
    for label, value, least in (
        ("slices", num_slices, 2),
        ("windows", num_windows, 1),
        ("episode length", episode_len if episode_len is not None else 1, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            hint = " (the 95 % interval is over independent slices)" if label == "slices" else ""
            raise ValueError(
                f"number of {label} must be an integer >= {least}, got {value!r}{hint}"
            )


def compare_policies(
    names: str | list[str],
    config: SliceConfig,
    trace: Trace,
    *,
    split: str = "test",
    obs: str = "predicted",
    num_slices: int = 64,
    num_windows: int = 1000,
    episode_len: int | None = None,
    seed: int = 0,
) -> list[PolicyRow]:
    """Evaluate each named policy (see `registry.BUILDERS`) over `num_slices`
    independent slices x `num_windows` windows of `split` of `trace`.

    episode_len: windows per episode (default `num_windows`: one episode per slice).
    All names are resolved before anything runs, so a bad name fails at once.
    """
    policy_names = parse_policy_names(names)
    check_sizes(num_slices, num_windows, episode_len)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if obs not in OBS_MODES:
        raise ValueError(f"obs must be one of {OBS_MODES}, got {obs!r}")
    context = EvalContext(trace, split, obs)
    policies = [resolve_policy(n, config, context) for n in policy_names]
    key = jax.random.key(seed)
    envs: dict[str, tuple] = {}
    rows = []
    for policy in policies:
        mode = policy.obs or obs
        if mode not in envs:
            envs[mode] = make_env(config, trace, split, mode, episode_len or num_windows)
        spec, params = envs[mode]
        result = evaluate_policy(
            policy.act, policy.params, params, spec, key, num_slices, num_windows
        )
        rows.append(PolicyRow(policy.name, mode, result))
    add_paired(rows, policy_names)
    return rows


def comparison_payload(rows: list[PolicyRow], **meta) -> dict:
    """JSON-ready: `meta` (config, split, ...) + one summary per policy under
    "results"; with a single policy its summary is also at the top level."""
    payload = {**meta, "results": [row.summary() for row in rows]}
    if len(rows) == 1:
        payload.update(rows[0].summary())
    return payload


def format_paired(row: PolicyRow, ref: str) -> str:
    """'+0.0123 ± 0.0010' (row minus ref, paired over slices), '' for ref itself."""
    if ref not in row.paired or row.name == ref:
        return ""
    mean, half = row.paired[ref]
    return f"{mean:+.4f} ± {half:.4f}"


def format_table(rows: list[PolicyRow]) -> str:
    """Markdown table: policy, observation, mean loss +- 95 % half-width, the paired
    differences to the yardsticks evaluated beside it, oracle gap, sizes."""
    refs = [ref for ref in PAIRED_REFERENCES if any(ref in row.paired for row in rows)]
    head = "".join(f" Δ vs {ref} (paired) |" for ref in refs)
    lines = [
        f"| policy | obs | mean loss | 95 % CI (±) |{head} gap to oracle (RB/user) "
        "| slices × windows | empty windows |",
        "|---|---|---|---|" + "---|" * len(refs) + "---|---|---|",
    ]
    for row in rows:
        r = row.result
        slices, windows = r.window_losses.shape[1], r.window_losses.shape[0]
        gap = "–" if r.oracle_gap is None else f"{r.oracle_gap:.2f}"
        paired = "".join(f" {format_paired(row, ref)} |" for ref in refs)
        lines.append(
            f"| {row.name} | {row.obs} | {r.mean_loss:.4f} | {r.ci95:.4f} |{paired} {gap} | "
            f"{slices} × {windows} | {r.empty_fraction:.2%} |"
        )
    return "\n".join(lines)
