"""Same seed, same data: whatever the device count, chunk size, host split or resume point.

Runs in a subprocess with 8 CPU devices (XLA_FLAGS must be set before JAX starts).
Two layouts are compared, so only two chunk programs compile:
  A: one host, 8 devices, 16 slices, chunks of 7 windows (resumed once midway);
  B: two hosts (process_index 0/1 of 2), 1 device each, 8 slices each, one chunk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import jax, numpy as np
    from difsched_jax.agents.heuristics import heuristic_params, random_policy
    from difsched_jax.config import get_dataset_config
    from difsched_jax.data import generate_dataset, load_dataset
    from difsched_jax.data.storage import write_meta
    from difsched_jax.traffic import get_trace

    assert len(jax.devices()) == 8, jax.devices()
    out = sys.argv[1]
    cfg = get_dataset_config(0)
    trace = get_trace(cfg.flow, cfg.window)
    # two sets with the same act (one compile) and different params
    pols = [(random_policy, heuristic_params(100)), (random_policy, heuristic_params(60))]
    kw = dict(num_slices=16, num_windows=40, episode_len=15, seed=11, progress=False)
    a = os.path.join(out, "a")
    generate_dataset(a, cfg, trace, pols, devices=8, chunk_windows=7, **kw)
    b = os.path.join(out, "b")
    for p in range(2):
        generate_dataset(b, cfg, trace, pols, devices=1, chunk_windows=40,
                         process_index=p, process_count=2, **kw)
    # interrupt A after set 0 + 2 shards of set 1, then resume it
    meta_path = os.path.join(a, "meta.json")
    meta = json.load(open(meta_path))
    full = load_dataset(a).arrays()
    meta["shards"], meta["complete"] = meta["shards"][:8], False
    write_meta(a, meta)  # as the writer leaves it when killed there
    generate_dataset(a, cfg, trace, pols, devices=8, chunk_windows=7, resume=True, **kw)
    resumed = load_dataset(a).arrays()
    split = load_dataset(b)
    assert split.num_slices == 32 and len(split.parts) == 2
    hosts = split.arrays()
    for k in full:
        assert np.array_equal(full[k], hosts[k]), ("hosts", k)
        assert np.array_equal(full[k], resumed[k]), ("resume", k)
    assert not np.array_equal(full["action"][:, :16], full["action"][:, 16:])
    print("IDENTICAL")
    """
)


@pytest.mark.slow
def test_identical_data_across_devices_chunks_hosts_and_resume(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "IDENTICAL" in proc.stdout
