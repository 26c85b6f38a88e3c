"""Everyday misuse, as a researcher meets it: each case runs `difsched` (or a few lines
of the Python API) in a fresh process and must end cleanly, with no traceback and no
crash: an error has the expected exit status and one line naming the flag, file or
policy; a notice is one `warning:` line and the work goes on.

    python tests/faults/misuse.py [--out DIR] [--json PATH]

Prints one row per case and the totals; exits 1 when any case fails. Ctrl-C and
SIGTERM are the kill matrix's (`kill_matrix.py --signals INT,TERM`); full disks and a
folder another process writes are in tests/test_faults_disk.py and test_output_lock.py.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Case:
    name: str
    argv: list  # difsched arguments, or ["-c", CODE] for the Python API
    code: int  # expected exit status
    says: str  # expected in the last stderr line (the error or the warning)
    exit: int = -1
    line: str = ""
    lines: int = 0
    tracebacks: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        clean = not self.tracebacks and self.exit >= 0
        one_line = self.lines == 1 if self.code != 0 else True
        return clean and self.exit == self.code and one_line and self.says in self.line


def run_case(case: Case, cwd: str) -> Case:
    t0 = time.perf_counter()
    cmd = [sys.executable, *case.argv] if case.argv[0] == "-c" else [
        sys.executable, "-m", "difsched_jax.cli", *case.argv]  # fmt: skip
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    case.exit, case.lines = proc.returncode, len(err)
    case.line = next((ln for ln in reversed(err) if case.says in ln), err[-1] if err else "")
    case.tracebacks = int("Traceback" in proc.stderr or "Fatal Python error" in proc.stderr)
    case.seconds = time.perf_counter() - t0
    return case


def _fake_runs(work: str) -> dict[str, str]:
    """Run folders holding only their config.json (all that these cases read)."""
    from difsched_jax.train import drl
    from difsched_jax.train.dql_config import make_run_config

    runs = {"train": make_run_config(0, os.path.join(work, "dataset"), bc=False),
            "train-drl": drl.make_run_config("ppo", 0, steps=100)}  # fmt: skip
    out = {}
    for kind, run in runs.items():
        folder = os.path.join(work, f"{kind}-run")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(run.to_dict(), f)
        out[kind] = folder
    return out


def _files(work: str) -> dict[str, str]:
    paths = {}
    bad_traces = os.path.join(work, "text-traces")
    os.makedirs(bad_traces, exist_ok=True)
    paths["text_trace_dir"] = bad_traces
    with open(os.path.join(bad_traces, "thumb_fr_window200.npz"), "w") as f:
        f.write("time,count\n0.0,3\n")
    paths["csv"] = os.path.join(work, "recording.csv")
    with open(paths["csv"], "w") as f:
        f.write("time,x,y,z\n0.0,0.1,0.2,0.3\n")
    fractional = os.path.join(work, "fractional-traces")
    os.makedirs(fractional, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 400), ("test", 300)):
        arrays[f"trafficTarget_{split}_actual"] = rng.uniform(0, 150, n)
        arrays[f"trafficTarget_{split}_predicted"] = rng.uniform(0, 150, n)
    np.savez(os.path.join(fractional, "thumb_fr_window200.npz"), **arrays)
    paths["fractional_dir"] = fractional
    paths["pickle"] = os.path.join(work, "trace.pkl")
    with open(paths["pickle"], "wb") as f:
        pickle.dump({"not": "a trace"}, f)
    return paths


API = """
import jax, jax.numpy as jnp
from difsched_jax.config import get_env_config
from difsched_jax.env import make_env
from difsched_jax.evaluate.compare import eval_trace
from difsched_jax.evaluate.core import evaluate_policy
config = get_env_config(0)
spec, params = make_env(config, eval_trace(config, None, "aligned"), "test", "predicted", 5)
{body}
try:
    evaluate_policy(policy, None, params, spec, jax.random.key(0), 2, 3, with_oracle_gap=False)
except ValueError as e:  # what the researcher reads: the exception's message
    raise SystemExit(f"ValueError: {{e}}")
"""


def cases(work: str) -> list[Case]:
    runs, files = _fake_runs(work), _files(work)
    ds_argv = ["gen-dataset", "--dataset-config", "0", "--slices", "2", "--windows", "20",
               "--episode-len", "10", "--no-progress", "--out", os.path.join(work, "ds")]  # fmt: skip
    evaluate = ["evaluate", "--policy", "equal", "--slices", "2", "--windows", "4"]
    return [
        Case("evaluate a train run as ppo", ["evaluate", "--policy", f"ppo:{runs['train']}"], 2,
             "is a `difsched train` run"),
        Case("train --resume with another --set", ["train", "--resume", "--out", runs["train"],
             "--set", "lr=0.1"], 2, "--set lr was"),
        Case("train --resume with --episodes",
             ["train", "--resume", "--out", runs["train"], "--episodes", "3"], 2, "--episodes"),
        Case("train-drl --resume with another --set", ["train-drl", "--resume", "--out",
             runs["train-drl"], "--set", "lr=0.1"], 2, "--set lr was"),
        Case("train-drl --resume with another --seed", ["train-drl", "--resume", "--out",
             runs["train-drl"], "--seed", "4"], 2, "got --seed 4"),
        Case("gen-dataset (made for the next case)", ds_argv, 0, ""),
        Case("gen-dataset --resume with other --windows", [*ds_argv[:6], "30", *ds_argv[7:],
             "--resume"], 2, "--windows differs"),
        Case("a text file where a trace should be", [*evaluate, "--traffic-dir",
             files["text_trace_dir"]], 2, "this is a text file"),
        Case("convert-trace on a CSV", ["convert-trace", files["csv"], os.path.join(work, "o.npz")],
             2, "this is a text file"),
        Case("convert-trace on a pickle of something else", ["convert-trace", files["pickle"],
             os.path.join(work, "o.npz")], 2, "expected a NumPy array"),
        Case("fractional counts in a trace (a notice; the run goes on)", [*evaluate,
             "--traffic-dir", files["fractional_dir"]], 0, "warning: " ),
        Case("more windows than the test split (a notice)", [*evaluate[:-1], "400",
             "--traffic-dir", files["fractional_dir"]], 0, "wraps around"),
        Case("a policy of the wrong shape (Python)", ["-c", API.format(
            body="def policy(p, k, obs):\n    return jnp.ones(3)")], 1,
             "policy policy returned an allocation of shape (3,)"),
        Case("NaN allocations (Python)", ["-c", API.format(
            body="def policy(p, k, obs):\n    return obs * jnp.nan")], 1,
             "returned non-finite allocations"),
    ]  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    p.add_argument("--json", default=None, help="write the cases here")
    args = p.parse_args(argv)
    work = args.out or tempfile.mkdtemp(prefix="misuse-")
    os.makedirs(work, exist_ok=True)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = []
    for case in cases(work):
        run_case(case, repo)
        done.append(case)
        status = "ok" if case.passed else f"FAILED (exit {case.exit}, {case.lines} lines)"
        print(f"{case.name:<58} {case.seconds:4.0f} s  {status}  {case.line[:150]}", flush=True)
    print(f"\ncases tried {len(done)}, passed {sum(c.passed for c in done)}, "
          f"tracebacks {sum(c.tracebacks for c in done)}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(c) | {"passed": c.passed} for c in done], f, indent=2)
    return 0 if all(c.passed for c in done) else 1


if __name__ == "__main__":
    sys.exit(main())
