"""`difsched bench`: run every script in `benchmarks/`, merge their JSON into one
`benchmarks.json` and write `BENCHMARKS.md` (tables + plots).

Each script is run in its own process (``--quick`` and ``--out DIR`` passed on)
so timings and peak memory are its own. The headline table puts the ratio each
issue asks for in one place; every ratio is against the NumPy reference of the
same algorithm measured in the same run, except where a row says "quoted"
(the reference's PyTorch numbers, which cannot be rerun here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"

# script -> (JSON it writes, extra args when real traces are given)
SCRIPTS = {
    "env_throughput.py": "env_throughput.json",
    "mdp_solve.py": "mdp_solve.json",
    "oracle.py": "oracle.json",
    "dataset_gen.py": "dataset_gen.json",
    "dql_speed.py": "dql_speed.json",
    "drl_speed.py": "drl_speed.json",
    "scaling.py": "scaling.json",
    "multidevice.py": "multidevice.json",
}
TAKES_TRAFFIC_DIR = {
    "env_throughput.py",
    "mdp_solve.py",
    "dataset_gen.py",
    "scaling.py",
    "multidevice.py",
}


def benchmarks_dir() -> Path:
    """The folder of this suite and its scripts."""
    return Path(__file__).resolve().parent


def machine() -> dict:
    import platform

    import jax

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


def run_suite(
    out: str | os.PathLike,
    quick: bool = False,
    traffic_dir: str | None = None,
    only: list[str] | None = None,
) -> dict:
    """Run the scripts (all, or those named in `only`), then write the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bdir = benchmarks_dir()
    names = only or list(SCRIPTS)
    unknown = sorted(set(names) - set(SCRIPTS))
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; known: {sorted(SCRIPTS)}")
    runs = {}
    for name in names:
        script = bdir / name
        if not script.exists():
            runs[name] = {"status": "missing"}
            continue
        cmd = [sys.executable, str(script), "--out", str(out)] + (["--quick"] if quick else [])
        if traffic_dir and name in TAKES_TRAFFIC_DIR:
            cmd += ["--traffic-dir", str(traffic_dir)]
        print(f"[bench] {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, check=False)
        runs[name] = {
            "status": "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})",
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return write_report(out, quick=quick, traffic_dir=traffic_dir, runs=runs)


def load_results(out: Path) -> dict:
    results = {}
    for name, json_name in SCRIPTS.items():
        path = out / json_name
        if path.exists():
            with open(path) as f:
                results[name.removesuffix(".py")] = json.load(f)
    return results


def write_report(out, quick=False, traffic_dir=None, runs=None) -> dict:
    out = Path(out)
    results = load_results(out)
    payload = {
        "machine": machine(),
        "quick": quick,
        "traffic": traffic_dir or "synthetic",
        "runs": runs or {},
        "headline": headline_rows(results),
        "results": results,
    }
    with open(out / "benchmarks.json", "w") as f:
        json.dump(payload, f, indent=2)
    (out / "BENCHMARKS.md").write_text(markdown(payload, out))
    print(f"wrote {out / 'benchmarks.json'} and {out / 'BENCHMARKS.md'}")
    return payload


# --- headline: one row per claim ---------------------------------------------


def _row(what, ours, baseline, ratio, note=""):
    return {"what": what, "ours": ours, "baseline": baseline, "ratio": ratio, "note": note}


def _env_rows(r):
    rows = []
    top = str(r.get("speedups_at_slices", 4096))
    for users in sorted(r["jax"], key=int):
        jax_rate = r["jax"][users][top]
        rows.append(_row(
            f"environment, N={users}, {top} slices (equal share): slice-windows/s",
            jax_rate, r["numpy_loop"][users][top], r["speedup_vs_numpy_loop"][users],
            "vs NumPy loop (slot by slot, as the reference)",
        ))  # fmt: skip
        rows.append(_row(
            f"environment, N={users}, {top} slices (equal share): slice-windows/s",
            jax_rate, r["numpy_vectorized"][users][top], r["speedup_vs_numpy_vectorized"][users],
            "vs vectorised NumPy",
        ))  # fmt: skip
    return rows


def _mdp_rows(r):
    loop = r.get("reference_loop", {}).get("seconds_extrapolated")
    return [_row(
        "MDP sub-agent solve, trace -> policy: seconds", r["seconds"], loop,
        r["speedup_vs_reference_loop"], "vs NumPy port of the reference sweep (extrapolated)",
    )]  # fmt: skip


def _oracle_rows(r):
    best = r["best_n20"]
    nrow = next((n for n in r["numpy"] if n["users"] == 20), None)
    return [_row(
        f"oracle DP, N=20, B=200, {best['slices']} slices: decisions/s", best["decisions_per_s"],
        nrow["decisions_per_s"] if nrow else None, best.get("speedup_vs_numpy"),
        "vs NumPy DP (same algorithm)",
    )]  # fmt: skip


def _dataset_rows(r):
    rows = []
    for idx in sorted({p["config"] for p in r["results"]["jax"]}):
        best = max(
            (p for p in r["results"]["jax"] if p["config"] == idx), key=lambda p: p["slices"]
        )
        loop = next(p for p in r["results"]["numpy_loop"] if p["config"] == idx)
        rows.append(_row(
            f"dataset generation, config {idx}, {best['slices']} slices: transitions/s",
            best["transitions_per_s"], loop["transitions_per_s"], best["speedup_vs_numpy_loop"],
            f"vs NumPy loop; peak RSS {best['peak_rss_mib']:.0f} MiB",
        ))  # fmt: skip
    return rows


def _dql_rows(r):
    """The default agent (what `difsched train` trains, deciding as its runs do) first,
    then SPEC §5's MLP agent with BC, labelled."""
    rows = []
    ref = {"updates_per_s": 17.8, "decisions_per_s_single": 53.0, "decisions_per_s_batch256": 100.0}
    labels = (
        ("updates_per_s", "updates/s"),
        ("decisions_per_s_single", "decisions/s, 1 state"),
        ("decisions_per_s_batch256", "decisions/s, 256 states"),
    )
    default = r.get("default_agent", {})
    for key, label in labels:
        for dim, agents in sorted(default.items(), key=lambda kv: int(kv[0])):
            value = agents.get("default", {}).get(key)
            if value is not None:
                rows.append(_row(
                    f"Diffusion-QL default agent {label}, state dim {dim}", value, ref[key],
                    value / ref[key], "vs the reference's PyTorch (quoted, state dim 8)",
                ))  # fmt: skip
    for key, label in labels:
        for dim, value in sorted(r.get(key, {}).items(), key=lambda kv: int(kv[0])):
            rows.append(_row(
                f"Diffusion-QL SPEC §5 MLP agent {label}, state dim {dim}", value, ref[key],
                value / ref[key], "vs the reference's PyTorch (quoted, state dim 8)",
            ))  # fmt: skip
    return rows


def _drl_rows(r):
    rows = []
    for algo, value in sorted(r.get("steps_per_s", {}).items()):
        rows.append(_row(
            f"{algo.upper()} training: env steps/s", value, 366.0, value / 366.0,
            "vs the reference's SB3 SAC (quoted)",
        ))  # fmt: skip
    return rows


EXTRACTORS = {
    "env_throughput": _env_rows,
    "mdp_solve": _mdp_rows,
    "oracle": _oracle_rows,
    "dataset_gen": _dataset_rows,
    "dql_speed": _dql_rows,
    "drl_speed": _drl_rows,
}


def headline_rows(results: dict) -> list[dict]:
    rows = []
    for name, extract in EXTRACTORS.items():
        if name in results:
            try:
                rows += extract(results[name])
            except (KeyError, TypeError, StopIteration, ValueError) as e:
                rows.append(_row(f"{name}: unreadable result ({e!r})", None, None, None))
    return rows


# --- markdown -----------------------------------------------------------------


def _fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, (int, float)):
        if x >= 100:
            return f"{x:,.0f}"
        if x >= 1:
            return f"{x:.2f}"
        return f"{x:.3g}"
    return str(x)


def headline_table(payload: dict) -> str:
    m = payload["machine"]
    lines = [
        f"Measured on {m['cpu']} ({m['cores']} cores), JAX {m['jax']} on {m['backend']}"
        + (" — quick run" if payload.get("quick") else "")
        + ". Medians after warm-up; compile time excluded (reported in the JSON).",
        "",
        "| what | ours | baseline | ratio | baseline is |",
        "|---|---:|---:|---:|---|",
    ]
    for r in payload["headline"]:
        lines.append(
            f"| {r['what']} | {_fmt(r['ours'])} | {_fmt(r['baseline'])} | "
            f"{_fmt(r['ratio'])}{'×' if r['ratio'] is not None else ''} | {r['note']} |"
        )
    return "\n".join(lines)


def markdown(payload: dict, out: Path) -> str:
    m = payload["machine"]
    parts = [
        "# Benchmarks",
        "",
        "Generated by `difsched bench"
        + (" --quick" if payload.get("quick") else "")
        + "` from `benchmarks.json` (do not edit by hand).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; JAX {m['jax']}, "
        f"backend {m['backend']}, devices {', '.join(m['devices'])}. Traffic: {payload['traffic']}.",
        "",
        "## Headline",
        "",
        headline_table(payload),
        "",
        "## Runs",
        "",
        "| script | status | seconds |",
        "|---|---|---:|",
    ]
    for name, run in payload["runs"].items():
        parts.append(f"| {name} | {run['status']} | {run.get('seconds', '–')} |")
    parts += _scaling_section(payload["results"].get("scaling"))
    parts += _multidevice_section(payload["results"].get("multidevice"))
    parts += ["", "## Plots", ""]
    for json_name in SCRIPTS.values():
        png = json_name.replace(".json", ".png")
        if (out / png).exists():
            parts += [f"### {png.removesuffix('.png')}", "", f"![{png}]({png})", ""]
    if m["backend"] == "cpu":
        parts += [
            "## Not measured here",
            "",
            "No GPU/TPU was available to this run: accelerator throughput is not measured; "
            "multi-device figures use devices simulated on the CPU, which share its cores.",
            "",
        ]
    return "\n".join(parts)


def _scaling_section(r) -> list[str]:
    if not r:
        return []
    lines = ["", "## Scaling (µs per slice-window; JAX / vectorised NumPy)", ""]
    for axis, key, label in (("by_slices", "slices", "slices"), ("by_users", "users", "users")):
        points = sorted({row[key] for row in r[axis]})
        fixed = f"{r['users_fixed']} users" if key == "slices" else f"{r['slices_fixed']} slices"
        lines += [
            f"{label} ({fixed}):",
            "",
            "| policy | " + " | ".join(str(x) for x in points) + " |",
            "|---|" + "---:|" * len(points),
        ]
        for policy in dict.fromkeys(row["policy"] for row in r[axis]):
            cells = {row[key]: row for row in r[axis] if row["policy"] == policy}
            lines.append(
                f"| {policy} | "
                + " | ".join(
                    f"{_fmt(cells[x]['us_per_slice_window'])} / "
                    f"{_fmt(cells[x]['numpy_us_per_slice_window'])}"
                    for x in points
                )
                + " |"
            )
        lines.append("")
    return lines


def _multidevice_section(r) -> list[str]:
    if not r:
        return []
    lines = [
        "",
        f"## Multi-device (dataset config {r['dataset_config']}, {r['slices']} slices x "
        f"{r['windows']} windows; {r['note']})",
        "",
        f"Data identical across device counts: **{'yes' if r['identical'] else 'NO'}**.",
        "",
        "| devices | transitions/s | sha256 of the data |",
        "|---:|---:|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['devices']} | {_fmt(row['transitions_per_s'])} | `{row['sha256'][:16]}` |"
        )
    return lines


def update_readme(readme: str | os.PathLike, payload: dict) -> None:
    """Replace the README's generated performance table (between the bench markers)."""
    path = Path(readme)
    text = path.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{path} has no {README_START} ... {README_END} section to update")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_START}\n{headline_table(payload)}\n{README_END}{tail}")
