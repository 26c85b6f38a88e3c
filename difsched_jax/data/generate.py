"""Offline dataset generation (SPEC §4): chunked, sharded over devices, streamed to disk.

Each chunk of windows is one jitted ``lax.scan`` over a ``vmap`` over slices
(`env.run_windows`), with the slice axis sharded over a device mesh. While
chunk i+1 runs, chunk i is copied to the host and written as a shard by a
background thread; memory is bounded by a few chunks whatever S x T is.

Slice ``s`` of sub-agent set ``j`` draws every random number from
``fold_in(fold_in(key(seed), j), s)`` only, so the data do not depend on the
device count, the chunk size, the host split or where a run was resumed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from functools import partial

import jax
import numpy as np
from tqdm.auto import tqdm

from difsched_jax.config import SliceConfig, check_positive_int
from difsched_jax.data import resume as resume_mod
from difsched_jax.data import schema, sharding
from difsched_jax.data.writer import ShardWriter, shard_name
from difsched_jax.env import EnvParams, EnvSpec, RolloutCarry, init_carry, make_env, run_windows
from difsched_jax.faults import crash_point
from difsched_jax.traffic.trace import Trace

TARGET_SHARD_BYTES = 64 << 20  # default chunk: about this much data per shard


@partial(jax.jit, static_argnames=("spec", "num_slices", "first_slice", "mesh"))
def _init(key, params, spec, num_slices, first_slice, mesh) -> RolloutCarry:
    carry = init_carry(key, params, spec, num_slices, first_slice)
    return jax.lax.with_sharding_constraint(carry, sharding.leading(mesh))


@partial(jax.jit, static_argnames=("policy", "spec", "num_windows", "mesh"))
def _chunk(policy, policy_params, params, spec, carry, num_windows, mesh):
    """(carry, {field: (num_windows, S, ...)}) with records cast to stored dtypes."""
    carry, record = run_windows(policy, policy_params, params, spec, carry, num_windows)
    data = schema.compact(record, spec.window)
    carry = jax.lax.with_sharding_constraint(carry, sharding.leading(mesh))
    data = jax.lax.with_sharding_constraint(data, sharding.second(mesh))
    return carry, data


def default_chunk_windows(num_slices: int, num_windows: int, num_users: int, window: int) -> int:
    per_window = num_slices * schema.bytes_per_transition(num_users, window)
    return int(max(1, min(num_windows, TARGET_SHARD_BYTES // max(per_window, 1))))


def generate_dataset(
    out_dir: str | os.PathLike,
    config: SliceConfig,
    trace: Trace,
    policies: Sequence[tuple],
    *,
    num_slices: int,
    num_windows: int = 10_000,
    episode_len: int = 1000,
    obs: str = "predicted",
    split: str = "train",
    seed: int = 0,
    chunk_windows: int | None = None,
    resume: bool = False,
    progress: bool = True,
    devices: int | Sequence | None = None,
    process_index: int = 0,
    process_count: int = 1,
    info: dict | None = None,
) -> dict:
    """Generate a dataset into `out_dir` (a part folder per host when process_count > 1).

    policies: one ``(act, policy_params)`` per sub-agent set of the config; the
    data of every set are concatenated along the slice axis (SPEC §2 note).
    Returns a summary (folder, transitions, seconds, transitions/s).
    """
    if not policies:
        raise ValueError("give at least one (act, policy_params) policy (one per sub-agent set)")
    check_positive_int("num_slices", num_slices)
    check_positive_int("num_windows", num_windows)
    spec, params = make_env(config, trace, split, obs, episode_len)
    slice_start, slice_stop = sharding.host_share(num_slices, process_index, process_count)
    local = slice_stop - slice_start
    mesh = sharding.slice_mesh(devices)
    padded = sharding.padded_size(local, mesh.size)
    chunk = chunk_windows or default_chunk_windows(
        local, num_windows, config.num_users, config.window
    )
    check_positive_int("chunk_windows", chunk)
    chunk = min(chunk, num_windows)

    folder = os.fspath(out_dir)
    if process_count > 1:
        folder = os.path.join(folder, f"part-{process_index:03d}-of-{process_count:03d}")
    meta = resume_mod.new_meta(
        config, params, policies, spec, obs, split, seed, num_slices, num_windows,
        (slice_start, slice_stop, process_index, process_count), chunk, mesh, info,
    )  # fmt: skip
    meta, start = resume_mod.prepare_folder(folder, meta, resume)
    params = jax.device_put(params, sharding.replicated(mesh))

    total = len(policies) * num_windows
    done_before = sum(s["window_stop"] - s["window_start"] for s in meta["shards"])
    bar = tqdm(
        total=total, initial=done_before, unit="win", desc="gen-dataset", disable=not progress
    )
    writer = ShardWriter(folder, meta)
    t0 = time.perf_counter()
    generated = 0
    try:
        writer.flush_meta()
        for set_index, (act, policy_params) in enumerate(policies):
            first_window = start.get(set_index, 0)
            if first_window >= num_windows:
                continue
            policy_params = jax.device_put(policy_params, sharding.replicated(mesh))
            key = jax.random.fold_in(jax.random.key(seed), set_index)
            carry = _init(key, params, spec, padded, slice_start, mesh)
            if first_window > 0:
                carry = resume_mod.restore_carry(
                    folder, meta, set_index, first_window, carry, local, sharding.leading(mesh)
                )
            run = partial(_chunk, act, policy_params, params, spec, num_windows=chunk, mesh=mesh)
            for w0, w1, data, carry_host in _pipeline(
                run, carry, first_window, num_windows, chunk, local
            ):
                arrays = {k: v[: w1 - w0, :local] for k, v in data.items()}
                if carry_host is not None:
                    arrays.update(carry_host)
                entry = {"file": shard_name(set_index, w0), "set": set_index,
                         "window_start": w0, "window_stop": w1}  # fmt: skip
                writer.submit(entry, arrays)
                crash_point("chunk_submitted")  # queued shards may be unwritten
                generated += (w1 - w0) * local
                bar.update(w1 - w0)
                bar.set_postfix_str(f"{generated / (time.perf_counter() - t0):,.0f} trans/s")
    finally:
        writer.close()
        bar.close()
    writer.check()
    seconds = time.perf_counter() - t0
    meta["complete"] = True
    meta["generation_seconds"] = round(seconds, 3)
    writer.flush_meta()
    return {
        "folder": folder,
        "transitions": generated,
        "seconds": seconds,
        "transitions_per_s": generated / seconds if seconds > 0 else float("nan"),
        "shards": len(meta["shards"]),
        "bytes": writer.bytes_written,
    }


def _pipeline(run, carry, first_window: int, num_windows: int, chunk: int, local: int):
    """Yield (w0, w1, host data, host carry or None) per chunk, with chunk i+1 already
    dispatched (JAX runs it asynchronously) while chunk i is copied and written.
    The last chunk runs at full length too (one compile) and is cut to size."""
    starts = list(range(first_window, num_windows, chunk))
    pending = run(carry)
    for i, w0 in enumerate(starts):
        carry, data = pending
        w1 = min(w0 + chunk, num_windows)
        if i + 1 < len(starts):
            pending = run(carry)
        host = {k: np.asarray(v) for k, v in data.items()}  # blocks until chunk i is done
        # the carry after a cut last chunk is past the end: nothing resumes from it
        carry_host = resume_mod.carry_to_host(carry, local) if w1 < num_windows else None
        yield w0, w1, host, carry_host


__all__ = ["EnvParams", "EnvSpec", "default_chunk_windows", "generate_dataset"]
