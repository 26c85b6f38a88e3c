"""The pipeline's report: allocation plots and report.md, written from the
JSON-ready results dict that also goes to results.json (so the report can be
re-rendered without evaluating anything)."""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.figure import Figure

from difsched_jax.config import describe_allocation
from difsched_jax.files import save_figure_atomic


def _binned(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, mean of y per bin) over the bins that hold any point."""
    idx = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    sums = np.bincount(idx, weights=y, minlength=len(edges) - 1)
    used = counts > 0
    centres = 0.5 * (edges[:-1] + edges[1:])
    return centres[used], sums[used] / counts[used]


def plot_allocations(
    samples: list[tuple[str, dict]],
    path: str | os.PathLike,
    budget: float,
    title: str = "",
    max_points: int = 4000,
) -> str:
    """One panel per policy: requested allocation vs the count it observed
    (points), with the binned means of the requested and granted allocation
    (the budget rule cuts what is over B)."""
    n = len(samples)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.2 * cols, 2.7 * rows + 0.4))
    top = max([1.0] + [float(np.max(s["observed"], initial=0)) for _, s in samples])
    edges = np.linspace(0.0, top + 1.0, 21)
    # up to the largest allocation shown (most sit far below B), never above B
    peak = max(
        [1.0] + [float(np.max(s[k], initial=0)) for _, s in samples for k in ("action", "granted")]
    )
    y_top = min(budget * 1.02, 1.15 * peak + 1.0)
    rng = np.random.default_rng(0)
    for i, (label, s) in enumerate(samples):
        ax = fig.add_subplot(rows, cols, i + 1)
        x, a, g = (np.asarray(s[k], dtype=np.float64) for k in ("observed", "action", "granted"))
        shown = rng.choice(x.size, min(x.size, max_points), replace=False) if x.size else []
        ax.scatter(x[shown], a[shown], s=3, alpha=0.15, color="tab:blue", rasterized=True)
        if x.size:
            ax.plot(*_binned(x, a, edges), color="tab:red", lw=1.8, label="mean requested")
            ax.plot(*_binned(x, g, edges), color="black", lw=1.2, ls="--", label="mean granted")
        ax.set_title(label, fontsize=9)
        ax.set_xlim(0, top + 1)
        ax.set_ylim(-1, y_top)
        ax.grid(alpha=0.3)
        if i % cols == 0:
            ax.set_ylabel("resource blocks r")
        if i >= n - cols:
            ax.set_xlabel("observed count u")
        if i == 0:
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title or "allocation per user vs observed packet count")
    fig.tight_layout()
    return _save(fig, path)


def plot_experiment_summary(
    experiments: list[tuple[str, list[dict]]], path, title: str = ""
) -> str:
    """Grouped bars: one group per experiment, one bar per policy (mean loss, 95 % CI).
    experiments: (group title, result rows with label, mean_loss, ci95)."""
    labels = list(dict.fromkeys(r["label"] for _, rows in experiments for r in rows))
    width = 0.8 / max(1, len(labels))
    fig = Figure(figsize=(max(6.0, 2.2 * len(experiments) + 2.0), 4.0))
    ax = fig.add_subplot()
    cmap = matplotlib_colors(len(labels))
    for j, label in enumerate(labels):
        xs, ms, es = [], [], []
        for g, (_, rows) in enumerate(experiments):
            for r in rows:
                if r["label"] == label:
                    xs.append(g - 0.4 + (j + 0.5) * width)
                    ms.append(r["mean_loss"])
                    es.append(np.nan_to_num(r["ci95"]))
        ax.bar(xs, ms, width, yerr=es, capsize=2, label=label, color=cmap[j])
    ax.set_xticks(range(len(experiments)), [t for t, _ in experiments])
    ax.set_ylabel("mean packet loss (95 % CI)")
    ax.set_title(title or "mean packet loss per experiment")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def matplotlib_colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _save(fig: Figure, path) -> str:
    return save_figure_atomic(fig, path, dpi=110, bbox_inches="tight")


def results_table(rows: list[dict]) -> str:
    """Markdown: policy, observation, mean loss ± 95 % half-width, the paired differences
    to oracle-bayes and the oracle (over slices), sizes."""
    refs = [ref for ref in ("oracle-bayes", "oracle") if any(
        ref in r.get("paired_difference", {}) for r in rows)]  # fmt: skip
    lines = [
        "| policy | observation | mean packet loss ± 95 % CI |"
        + "".join(f" Δ vs {ref} (paired 95 % CI) |" for ref in refs)
        + " slices × windows |",
        "|---|---|---|" + "---|" * len(refs) + "---|",
    ]
    # best deployable policy that only sees predictions (not the in-sample floor)
    best = min(
        (
            r["mean_loss"]
            for r in rows
            if "perfect" not in r["obs"] and r.get("policy") != "oracle-bayes"
        ),
        default=None,
    )
    for r in rows:
        mean = f"{r['mean_loss']:.4f}"
        if r["mean_loss"] == best:
            mean = f"**{mean}**"
        cells = ""
        for ref in refs:
            d = r.get("paired_difference", {}).get(ref)
            same = r.get("policy") == ref or d is None or (d["mean"] == 0 and d["ci95"] == 0)
            cells += " |" if same else f" {d['mean']:+.4f} ± {d['ci95']:.4f} |"
        lines.append(
            f"| {r['label']} | {r['obs']} | {mean} ± {r['ci95']:.4f} |{cells} "
            f"{r['slices']} × {r['windows']} |"
        )
    return "\n".join(lines)


def _experiment_section(e: dict) -> list[str]:
    cfg = e["config"]
    out = [
        f"## Experiment {e['experiment']}: {cfg['num_users']} users, B = {cfg['budget']}, "
        f"{cfg['flow']}",
        "",
        f"Trained on dataset config {e['train_dataset']}, evaluated on env config "
        f"{e['env_config']} (channel k ∈ {list(cfg['sigmoid_k'])}), {e['split']} split, "
        f"{e['slices']} independent slices × {e['windows']} windows in episodes of "
        f"{e['episode_len']}, the same random numbers for every policy.",
        "",
        results_table(e["results"]),
        "",
    ]
    if e.get("dataset"):
        d = e["dataset"]
        out += [
            f"Offline dataset: {d['transitions']:,} transitions of the MDP behaviour policy "
            f"(train split), mean loss {d['mean_loss']:.4f}.",
            "",
        ]
    figs = e["figures"]
    out += [
        f"![mean packet loss per policy]({figs['comparison']})",
        "",
        f"![per-window loss distribution]({figs['losses']})",
        "",
        "Allocations chosen in the evaluation rollout (points: requested r per user "
        "and window; lines: binned means of requested and granted r):",
        "",
        f"![allocations]({figs['allocations']})",
        "",
    ]
    if e.get("training"):
        out += ["### Training", "", "| run | episodes | best validation loss | seconds |"]
        out.append("|---|---|---|---|")
        for t in e["training"]:
            s = t["summary"]
            best = s.get("best_val_loss")
            out.append(
                f"| {t['label']} (`{t['folder']}`) | {s.get('episodes_done', '')} | "
                f"{'' if best is None else f'{best:.4f}'} | {s.get('train_seconds', 0):.0f} |"
            )
        out.append("")
        for t in e["training"]:
            if t.get("curves"):
                out += [f"![training curves: {t['label']}]({t['curves']})", ""]
    return out


def render_report(results: dict) -> str:
    """report.md's text from the results dict (see `pipeline.run`)."""
    preset = results["preset"]
    out = [
        f"# difsched pipeline report: preset `{preset['name']}`",
        "",
        f"Allocation: {describe_allocation(results.get('allocation', 'reference'))}. "
        f"Traffic: {results['traffic']}; loss/observation pairing: {results['alignment']}; "
        f"seed {results['seed']}. Written {results['created']} on {results['machine']}; "
        f"this run took {results['wall_seconds']:.0f} s.",
        "",
        "Lower is better. The oracle with perfect observation is a floor no "
        "scheduler reaches; the one with predicted observation sees what every other "
        "policy sees and trusts the prediction. oracle-calibrated is the same integer DP "
        "on the expected loss weights given the observation, their law counted on the "
        "train split: a deployable baseline. oracle-bayes counts that law on the evaluated "
        "split itself: the best any policy that sees only the current observation can do "
        "in expectation, an in-sample floor, not a policy to deploy. The interval is a "
        "95 % t-interval over independent slices; the Δ columns pair each policy with the "
        "yardstick slice by slice (every policy sees the same slices and windows).",
        "",
    ]
    if results.get("summary_figure"):
        out += [f"![mean packet loss per experiment]({results['summary_figure']})", ""]
    for e in results["experiments"]:
        out += _experiment_section(e)
    out += ["## Stages", "", "| stage | folder | status | seconds |", "|---|---|---|---|"]
    for s in results["stages"]:
        out.append(f"| {s['stage']} | `{s['folder']}` | {s['status']} | {s['seconds']:.1f} |")
    out += [
        "",
        "Each folder name ends in a hash of the stage's settings, seed and inputs: "
        "running the same command again skips finished stages; changed settings get "
        "new folders. Delete a folder to redo that stage.",
        "",
    ]
    return "\n".join(out)
