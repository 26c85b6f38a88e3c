#!/usr/bin/env bash
# One-shot GPU check: env throughput (1k to 1M slices), dataset generation (config 1,
# 65,536 slices), oracle decisions/s, Diffusion-QL updates/s and decisions/s, in one
# JSON and under 8 minutes. On a machine with an NVIDIA GPU, from the repository root:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]          -> OUT_DIR/gpu_check.json (default bench_out)
#
# From a plain checkout with the interpreter that already has jax with CUDA (nothing is
# installed when jax sees the GPU):
#
#     PYTHON=python3 PYTHONPATH=. bash benchmarks/gpu_check.sh [OUT_DIR]
#
# Only if jax does not see the GPU does it install its CUDA build (the installed jax
# version, so the code runs on what the tests ran); GPU_CHECK_NO_INSTALL=1 refuses
# instead. GPU_CHECK_TINY=1: a CPU dry run at toy sizes, no install
# (tests/test_gpu_check.py). PYTHON overrides the interpreter (default .venv's, else python).
set -euo pipefail
cd "$(dirname "$0")/.."
# the dataset section runs in a second process: neither may grab 75 % of the GPU up front
export XLA_PYTHON_CLIENT_PREALLOCATE=false
out="${1:-bench_out}"
py="${PYTHON:-python}"
if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then py=.venv/bin/python; fi

if [ "${GPU_CHECK_TINY:-0}" = "1" ]; then
  # figures are meaningless at toy sizes: compile fast rather than well
  export JAX_PLATFORMS=cpu
  export XLA_FLAGS="${XLA_FLAGS:-} --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
  exec "$py" benchmarks/gpu_check.py --tiny --out "$out"
fi
if ! nvidia-smi -L; then
  echo "gpu_check: no NVIDIA GPU here (nvidia-smi -L failed); CPU dry run: GPU_CHECK_TINY=1 $0" >&2
  exit 1
fi
backend() { "$py" -c "import jax; print(jax.default_backend())" 2>/dev/null || echo none; }
if [ "$(backend)" != "gpu" ] && [ "${GPU_CHECK_NO_INSTALL:-0}" = "1" ]; then
  echo "gpu_check: jax sees no GPU with $py and GPU_CHECK_NO_INSTALL=1 forbids installing jax[cuda]" >&2
  exit 1
fi
if [ "$(backend)" != "gpu" ]; then
  version="$("$py" -c "import jax; print(jax.__version__)")"
  echo "gpu_check: installing jax[cuda12]==$version" >&2
  "$py" -m pip install -q -U "jax[cuda12]==$version"
fi
if [ "$(backend)" != "gpu" ]; then
  echo "gpu_check: jax still sees no GPU after installing jax[cuda12]; see nvidia-smi" >&2
  exit 1
fi
# the 8 minutes include the install: the benchmark gets what is left, less a margin
budget=$((450 - SECONDS))
exec timeout $((budget + 30)) "$py" benchmarks/gpu_check.py --out "$out" --budget "$budget"
