"""benchmarks/gpu_check.sh: its CPU dry run writes one sane JSON, fast; without a GPU
the real run refuses clearly."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.mark.slow
def test_cpu_dry_run_writes_sane_json(tmp_path):
    env = {**os.environ, "GPU_CHECK_TINY": "1", "PYTHON": sys.executable}
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert seconds < 150, f"the dry run took {seconds:.0f} s"  # ~35 s on 2 idle cores
    p = json.loads((tmp_path / "gpu_check.json").read_text())
    assert p["tiny"] is True and p["machine"]["backend"] == "cpu" and p["skipped"] == []
    assert list(p["section_s"]) == ["dataset_gen", "oracle", "dql", "env_throughput"]
    assert p["env_throughput"]["skipped"] == []
    assert p["wall_s"] <= p["budget_s"]

    env_rates = p["env_throughput"]["slice_windows_per_s"]
    assert set(env_rates) == {"8", "20"}
    for users in env_rates:
        assert set(env_rates[users]) == {"64"} and _positive(env_rates[users]["64"])
        assert p["env_throughput"]["windows_per_call"][users]["64"] == 10

    ds = p["dataset_gen"]
    assert (ds["impl"], ds["config"], ds["slices"], ds["windows"]) == ("jax", 1, 64, 10)
    assert ds["transitions"] > 0 and ds["transitions"] % (64 * 10) == 0  # whole sets
    assert _positive(ds["transitions_per_s"]) and ds["bytes_written"] > 0

    rows = p["oracle"]["rows"]
    assert sorted((r["users"], r["budget"], r["slices"]) for r in rows) == [
        (8, 100, 16),
        (20, 200, 16),
    ]
    assert all(_positive(r["decisions_per_s"]) for r in rows)
    for n in p["oracle"]["numpy"]:  # the NumPy DP found allocations as good as JAX's
        assert n["same_dp"]["max_value_gap_vs_jax"] < 1e-3

    dql = p["dql"]
    assert dql["updates_per_call"] == 2 and "toy" in dql["agent"]
    for key in ("updates_per_s", "decisions_per_s_single", "decisions_per_s_batch256"):
        assert _positive(dql["8"][key]), key

    head = p["headline"]
    assert head["dataset_transitions_per_s"] == ds["transitions_per_s"]
    assert head["dql_updates_per_s"] == {"8": dql["8"]["updates_per_s"]}
    assert head["env_slice_windows_per_s_max"] == {u: v["64"] for u, v in env_rates.items()}


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU machine")
def test_without_a_gpu_the_real_run_refuses_clearly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GPU_CHECK_TINY"}
    proc = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert "no NVIDIA GPU here" in proc.stderr and "GPU_CHECK_TINY=1" in proc.stderr
    assert not (tmp_path / "gpu_check.json").exists()


def test_sections_that_do_not_fit_the_budget_are_skipped(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    # experiments/ has its own `_common` (test_experiments imports it): load benchmarks' one
    for name in ("_common", "dataset_gen", "dql_speed", "env_throughput", "oracle", "gpu_check"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import gpu_check

    p = gpu_check.run(tiny=False, budget_s=1.0)  # nothing fits: nothing runs
    assert [s.split(" ")[0] for s in p["skipped"]] == list(gpu_check.MIN_SECONDS)
    assert p["section_s"] == {} and set(p["headline"].values()) == {None}
    assert p["sizes"]["dataset"] == (1, 65_536, 200) and p["sizes"]["env_slices"][-1] == 1 << 20


def _fake_bin(tmp_path, backend: str):
    """A fake `nvidia-smi` and a fake interpreter that logs every call and answers the
    script's backend check with `backend` (nothing here is a real GPU)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: fake'\n")
    (bin_dir / "fakepy").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$*" in\n'
        f"  *default_backend*) echo {backend} ;;\n"
        "  *__version__*) echo 0.0.0 ;;\n"
        "esac\n"
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHON": "fakepy"}
    env.pop("GPU_CHECK_TINY", None)
    return env, log


def test_a_gpu_that_jax_sees_is_never_installed_over(tmp_path):
    """The machine a GPU comes with can install nothing: when jax reports a GPU backend
    the script goes straight to the benchmark, and pip is never called."""
    env, log = _fake_bin(tmp_path, "gpu")
    proc = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text()
    assert "pip" not in calls and "benchmarks/gpu_check.py --out" in calls


def test_no_install_flag_refuses_instead_of_calling_pip(tmp_path):
    env, log = _fake_bin(tmp_path, "cpu")
    env["GPU_CHECK_NO_INSTALL"] = "1"
    proc = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1 and "pip" not in log.read_text()
    assert "jax sees no GPU" in proc.stderr and "GPU_CHECK_NO_INSTALL" in proc.stderr
