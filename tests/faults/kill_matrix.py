"""Kill -9, Ctrl-C or SIGTERM at chosen points of gen-dataset, train, train-drl and
pipeline, then rerun.

    python tests/faults/kill_matrix.py [--out DIR] [--commands gen-dataset,train,...]
                                      [--signals KILL,INT,TERM] [--json PATH]

For each command: one uninterrupted reference run; then, per kill point and signal, a
run with ``DIFSCHED_KILL_AT=POINT:N`` (see `difsched_jax.faults`), which must stop
there: killed by SIGKILL, or, for SIGINT/SIGTERM, ending by itself with exit 130/143
and one line on stderr naming what was saved and how to continue (no traceback, no
crash, also when the signal lands inside an XLA compile). Then the same command again
(``--resume`` where the command has it) must finish, and the finished run is
compared with the reference:

- gen-dataset: every dataset array equal, no temporary file left;
- train, train-drl: metrics rows equal (timings aside), the summary equal, the
  best and latest checkpoints holding equal arrays at equal steps;
- pipeline: results.json's figures equal (timings aside) and the report's
  evaluation figures (PNG files) byte for byte.

Prints one row per case (killed, rerun ok, identical, lost items, tracebacks)
and the totals; exits 1 when any case fails. Sizes are tiny (seconds per run);
a shared XLA cache keeps the many processes from compiling the same programs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

import numpy as np

# (point, N) per command: three or more each, at least one inside a shard or checkpoint write
POINTS = {
    "gen-dataset": [
        ("shard_tmp", 3), ("shard_unlisted", 2), ("chunk_submitted", 4), ("xla_compile", 2),
    ],
    "train": [("ckpt_write", 2), ("best_saved", 1), ("rows_written", 3), ("xla_compile", 3)],
    "train-drl": [("ckpt_write", 3), ("best_saved", 1), ("rows_written", 2), ("xla_compile", 2)],
    "pipeline": [
        ("shard_tmp", 1),
        ("ckpt_write", 3),
        ("stage_work_done", 3),
        ("policy_evaluated", 3),
        ("xla_compile", 4),
    ],
}  # fmt: skip
SIGNALS = ("KILL", "INT", "TERM")
TIMING_KEYS = {
    "seconds", "train_seconds", "chunk_seconds", "steps_per_s", "compiled",
    "steady_steps_per_s", "generation_seconds", "solve_seconds", "wall_seconds",
    "created", "machine", "stages", "transitions_per_s", "distill_seconds",
}  # fmt: skip

TINY_DQL = {
    "hidden": 32, "t_dim": 8, "num_steps": 4, "num_critics": 2, "batch_size": 16,
    "updates_per_episode": 8, "val_every": 2, "val_slices": 2, "val_windows": 4,
    "eval_candidates": 5, "episode_len": 3, "sample_steps": 2, "distill_updates": 20,
}  # fmt: skip
TINY_DRL = {"num_slices": 8, "rollout_len": 5}


@dataclass
class Case:
    command: str
    point: str
    nth: int
    signal: str = "KILL"
    killed: bool = False  # stopped as the signal demands (see `stopped_as_asked`)
    rerun_ok: bool = False
    identical: bool = False
    lost: int = 0  # items of the reference missing after the rerun
    tracebacks: int = 0
    detail: str = ""
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.killed and self.rerun_ok and self.identical and not self.tracebacks


def difsched(argv: list[str], env: dict, kill_at: str | None = None, sig: str = "KILL"):
    """(returncode, stderr) of `python -m difsched_jax.cli ARGV`."""
    env = dict(env)
    env.pop("DIFSCHED_KILL_AT", None)
    env.pop("DIFSCHED_KILL_SIGNAL", None)
    if kill_at:
        env["DIFSCHED_KILL_AT"] = kill_at
        env["DIFSCHED_KILL_SIGNAL"] = sig
        if kill_at.startswith("xla_compile"):  # real compiles, not the shared cache's
            env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    proc = subprocess.run(
        [sys.executable, "-m", "difsched_jax.cli", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc.returncode, proc.stderr


def strip_timing(obj):
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


# ---------------------------------------------------------------- comparisons


def compare_datasets(ref: str, got: str) -> tuple[bool, int, str]:
    from difsched_jax.data import load_dataset

    a, b = load_dataset(ref).arrays(), load_dataset(got).arrays()
    lost = sum(1 for k in a if k not in b)
    for k in a:
        if k in b and (a[k].shape != b[k].shape or not np.array_equal(a[k], b[k])):
            return False, lost, f"array {k} differs"
    tmp = [n for n in os.listdir(got) if ".tmp" in n]
    if tmp:
        return False, lost, f"temporary files left: {tmp}"
    return lost == 0, lost, ""


def _checkpoint_arrays(run_dir: str, slot: str) -> tuple[int | None, dict]:
    """(step, {leaf path: array}) of a run's checkpoint slot; (None, {}) when empty."""
    import jax
    import orbax.checkpoint as ocp

    folder = os.path.join(run_dir, "ckpt", slot)
    steps = [int(n) for n in os.listdir(folder) if n.isdigit()] if os.path.isdir(folder) else []
    if not steps:
        return None, {}
    tree = ocp.PyTreeCheckpointer().restore(os.path.join(folder, str(max(steps)), "state"))
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return max(steps), {jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves}


def _rows(run_dir: str) -> list[dict]:
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [strip_timing(json.loads(line)) for line in f if line.strip()]


def _json(path: str):
    with open(path) as f:
        return json.load(f)


def compare_runs(ref: str, got: str) -> tuple[bool, int, str]:
    ra, rb = _rows(ref), _rows(got)
    lost = max(0, len(ra) - len(rb))
    if ra != rb:
        return False, lost, f"metrics rows differ ({len(ra)} vs {len(rb)} rows)"
    if strip_timing(_json(os.path.join(ref, "summary.json"))) != strip_timing(
        _json(os.path.join(got, "summary.json"))
    ):
        return False, lost, "summary.json differs"
    for slot in ("best", "latest"):
        sa, a = _checkpoint_arrays(ref, slot)
        sb, b = _checkpoint_arrays(got, slot)
        if sa != sb or a.keys() != b.keys():
            return False, lost + 1, f"{slot} checkpoint: step {sa} vs {sb}"
        for k in a:
            if not np.array_equal(a[k], b[k]):
                return False, lost, f"{slot} checkpoint: {k} differs"
    return True, lost, ""


def compare_pipelines(ref: str, got: str) -> tuple[bool, int, str]:
    a, b = _json(os.path.join(ref, "results.json")), _json(os.path.join(got, "results.json"))
    ea, eb = strip_timing(a["experiments"]), strip_timing(b["experiments"])
    lost = sum(len(x["results"]) for x in ea) - sum(len(x["results"]) for x in eb)
    if ea != eb:
        return False, max(lost, 0), "results.json figures differ"
    for exp in a["experiments"]:
        for rel in exp["figures"].values():
            with open(os.path.join(ref, rel), "rb") as f, open(os.path.join(got, rel), "rb") as g:
                if f.read() != g.read():
                    return False, 0, f"figure {rel} differs"
    return True, 0, ""


# ---------------------------------------------------------------- commands


def _sets(settings: dict) -> list[str]:
    return [x for k, v in settings.items() for x in ("--set", f"{k}={json.dumps(v)}")]


def command_argv(command: str, out: str, work: str) -> tuple[list[str], list[str]]:
    """(first run's argv, rerun's argv) of `command` writing to `out`."""
    if command == "gen-dataset":
        argv = ["gen-dataset", "--dataset-config", "0", "--slices", "4", "--windows", "40",
                "--episode-len", "20", "--chunk-windows", "8", "--seed", "3",
                "--agents", os.path.join(work, "agents"), "--no-progress", "--out", out]  # fmt: skip
        return argv, argv + ["--resume"]
    if command == "train":
        argv = ["train", "--exp-config", "0", "--dataset", os.path.join(work, "dataset"),
                "--episodes", "4", "--no-bc", "--no-progress", *_sets(TINY_DQL), "--out", out]  # fmt: skip
        return argv, ["train", "--resume", "--no-progress", "--out", out]
    if command == "train-drl":
        argv = ["train-drl", "--algo", "ppo", "--env-config", "0", "--steps", "160",
                "--chunk-steps", "40", "--no-progress", *_sets(TINY_DRL), "--out", out]  # fmt: skip
        return argv, ["train-drl", "--resume", "--no-progress", "--out", out]
    if command == "pipeline":
        argv = ["pipeline", "--preset", "tiny", "--no-progress", "--out", out]
        return argv, argv
    raise ValueError(f"unknown command {command!r}; known: {', '.join(POINTS)}")


COMPARE = {
    "gen-dataset": compare_datasets,
    "train": compare_runs,
    "train-drl": compare_runs,
    "pipeline": compare_pipelines,
}


def prepare(work: str, env: dict) -> None:
    """The sub-agents and the small dataset the dataset and training runs read."""
    for name in ("agents", "dataset"):
        shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    for argv in (
        ["build-agent", "--subagent-config", "0", "--out", os.path.join(work, "agents")],
        ["gen-dataset", "--dataset-config", "0", "--slices", "4", "--windows", "30",
         "--episode-len", "15", "--agents", os.path.join(work, "agents"), "--no-progress",
         "--out", os.path.join(work, "dataset")],
    ):  # fmt: skip
        rc, err = difsched(argv, env)
        if rc != 0:
            raise SystemExit(f"preparing {' '.join(argv)} failed:\n{err}")


def stopped_as_asked(case: Case, rc: int, err: str, out: str) -> tuple[bool, str]:
    """SIGKILL: died by it. SIGINT/SIGTERM: exit 128 + signal and, besides the fault's
    own line, exactly one line: ``difsched CMD: interrupted (SIG…): …`` naming `out`."""
    if case.signal == "KILL":
        return rc == -signal.SIGKILL and "difsched fault: killed" in err, ""
    sig = signal.Signals["SIG" + case.signal]
    lines = [ln for ln in err.splitlines() if ln.strip() and "difsched fault" not in ln]
    head = f"difsched {case.command}: interrupted ({sig.name}): "
    ok = (
        rc == 128 + sig
        and "difsched fault: sent" in err
        and len(lines) == 1
        and lines[0].startswith(head)
        and out in lines[0]
    )
    return ok, (lines[0] if len(lines) == 1 else f"{len(lines)} lines")


def run_case(case: Case, work: str, env: dict, reference: str) -> Case:
    t0 = time.perf_counter()
    out = os.path.join(work, f"{case.command}-{case.point}-{case.nth}-{case.signal}")
    shutil.rmtree(out, ignore_errors=True)
    first, rerun = command_argv(case.command, out, work)
    rc, err = difsched(first, env, kill_at=f"{case.point}:{case.nth}", sig=case.signal)
    case.killed, said = stopped_as_asked(case, rc, err, out)
    case.tracebacks += "Traceback" in err or "Fatal Python error" in err
    case.notes.append(next((ln for ln in err.splitlines() if "difsched fault" in ln), f"rc {rc}"))
    if said:
        case.notes.append(said)
    if not case.killed:
        case.detail = f"not stopped as asked (exit {rc}): {err.strip().splitlines()[-3:]}"
    rc, err = difsched(rerun, env)
    case.rerun_ok = rc == 0
    case.tracebacks += "Traceback" in err
    if not case.rerun_ok:
        case.detail = f"rerun exit {rc}: {err.strip().splitlines()[-1:]}"
    else:
        case.identical, case.lost, detail = COMPARE[case.command](reference, out)
        case.detail = case.detail or detail
    case.seconds = time.perf_counter() - t0
    return case


def matrix_env(work: str) -> dict:
    env = dict(os.environ)
    env.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(work, "xla-cache"))
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    env.setdefault("XDG_CACHE_HOME", os.path.join(work, "cache"))  # the pipeline's own cache
    return env


def run_matrix(work: str, points: dict, log=print, signals=("KILL",)) -> list[Case]:
    """Every case of `points` ({command: [(point, N), ...]}) × `signals` in folder `work`."""
    os.makedirs(work, exist_ok=True)
    env = matrix_env(work)
    prepare(work, env)
    cases = []
    for command, chosen in points.items():
        reference = os.path.join(work, f"{command}-reference")
        shutil.rmtree(reference, ignore_errors=True)
        first, _ = command_argv(command, reference, work)
        rc, err = difsched(first, env)
        if rc != 0:
            raise SystemExit(f"the uninterrupted {command} run failed:\n{err}")
        for point, nth in chosen:
            for sig in signals:
                case = run_case(Case(command, point, nth, sig), work, env, reference)
                cases.append(case)
                status = "ok" if case.passed else f"FAILED: {case.detail}"
                how = case.notes[0].replace("difsched fault: ", "")
                log(
                    f"{command:<12} {point}:{nth:<3} {sig:<4} {case.seconds:4.0f} s  {status}  ({how})"
                )
    return cases


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    p.add_argument("--commands", default=",".join(POINTS))
    p.add_argument("--signals", default="KILL", help=f"any of {','.join(SIGNALS)}")
    p.add_argument("--json", default=None, help="write the cases here")
    args = p.parse_args(argv)
    commands = args.commands.split(",")
    for c in commands:
        if c not in POINTS:
            p.error(f"unknown command {c!r}; known: {', '.join(POINTS)}")
    signals = args.signals.upper().split(",")
    for s in signals:
        if s not in SIGNALS:
            p.error(f"unknown signal {s!r}; known: {', '.join(SIGNALS)}")
    work = args.out or tempfile.mkdtemp(prefix="kill-matrix-")
    log = lambda s: print(s, flush=True)  # noqa: E731
    cases = run_matrix(work, {c: POINTS[c] for c in commands}, log=log, signals=signals)
    print_table(cases)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(c) | {"passed": c.passed} for c in cases], f, indent=2)
    return 0 if all(c.passed for c in cases) else 1


def print_table(cases: list[Case]) -> None:
    print("\n| command | kill point | signal | stopped as asked | rerun ok | identical | lost "
          "| tracebacks |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    yes = {True: "yes", False: "NO"}
    for c in cases:
        print(f"| {c.command} | {c.point}:{c.nth} | {c.signal} | {yes[c.killed]} | {yes[c.rerun_ok]} | "
              f"{yes[c.identical]} | {c.lost} | {c.tracebacks} |")  # fmt: skip
    passed = sum(c.passed for c in cases)
    lost = sum(c.lost for c in cases)
    tracebacks = sum(c.tracebacks for c in cases)
    print(f"\ncases tried {len(cases)}, passed {passed}, lost data {lost}, tracebacks {tracebacks}")


if __name__ == "__main__":
    sys.exit(main())
