"""Generation, loading, checks and resume of a tiny dataset (synthetic traffic, MDP policy).

One dataset is generated per module (one compile); the CLI test uses the same
shapes so it reuses that compile.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from difsched_jax.cli import main
from difsched_jax.config import DatasetConfig
from difsched_jax.data import DatasetError, generate_dataset, load_dataset, to_agent_arrays
from difsched_jax.data.policy import behaviour_policies
from difsched_jax.data.storage import sha256_file, write_meta
from difsched_jax.traffic import load_trace

S, T, E, C = 6, 50, 20, 16  # slices, windows, episode length, chunk (last chunk cut to 2)
# two sub-agent sets: the dataset concatenates both (SPEC §2 note)
CONFIG = DatasetConfig(
    num_users=8, budget=100, flow="thumb_fr", sigmoid_k=(0.3,), sub_agents=((0, 0), (1, 0))
)


@functools.cache
def _inputs():
    trace = load_trace(CONFIG.flow, CONFIG.window)
    return trace, *behaviour_policies(CONFIG)  # sub-agents solved once per module


def _generate(folder, **kw):
    trace, policies, facts = _inputs()
    args = dict(num_slices=S, num_windows=T, episode_len=E, chunk_windows=C, seed=3)
    args.update(kw)
    return generate_dataset(folder, CONFIG, trace, policies, progress=False, info=facts, **args)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("data") / "ds")
    summary = _generate(folder)
    assert summary["transitions"] == 2 * S * T and summary["shards"] == 2 * 4
    return folder


@pytest.fixture(scope="module")
def arrays(dataset_dir):
    return load_dataset(dataset_dir).arrays()


def test_layout_and_semantics(dataset_dir, arrays):
    ds = load_dataset(dataset_dir)
    assert (ds.num_windows, ds.num_slices, ds.num_users) == (T, 2 * S, 8)
    assert ds.num_transitions == 2 * S * T
    assert arrays["obs"].shape == (T, 2 * S, 8) and arrays["obs"].dtype == np.uint8
    assert arrays["action"].dtype == np.float32 and arrays["loss"].shape == (T, 2 * S)
    t = np.arange(T)[:, None]
    np.testing.assert_array_equal(arrays["episode_start"], np.broadcast_to(t % E == 0, (T, 2 * S)))
    np.testing.assert_array_equal(arrays["done"], np.broadcast_to(t % E == E - 1, (T, 2 * S)))
    inside = ~arrays["done"][:-1]  # the next window's observation, except across a reset
    np.testing.assert_array_equal(arrays["next_obs"][:-1][inside], arrays["obs"][1:][inside])
    assert set(np.unique(arrays["action"])) <= {0.0, 15.0, 30.0, 45.0, 60.0}
    np.testing.assert_array_equal(arrays["action"][..., :4].sum(-1), 60.0)  # whole budget asked
    assert np.all((arrays["loss"] >= 0) & (arrays["loss"] <= 1))
    # granted: the budget rule's cut of the request (2 × 60 asked of B = 100)
    granted, asked = arrays["granted"], arrays["action"]
    assert np.all((granted >= 0) & (granted <= asked))
    np.testing.assert_allclose(granted.sum(-1), np.minimum(asked.sum(-1), 100.0), atol=1e-4)
    assert (granted < asked).any()
    # every slice and both sets differ (own keys; set 1's first group is another sub-agent)
    assert len({arrays["obs"][:, s].tobytes() for s in range(2 * S)}) == 2 * S
    assert not np.array_equal(arrays["action"][:, :S], arrays["action"][:, S:])


def test_meta_records_checksums_and_carry(dataset_dir):
    with open(os.path.join(dataset_dir, "meta.json")) as f:
        meta = json.load(f)
    assert meta["complete"] and meta["package_version"] and meta["generation"]["seed"] == 3
    assert meta["generation"]["num_sets"] == 2 and meta["fields"]["obs"]["dtype"] == "uint8"
    assert meta["config"]["sub_agents"] == [[0, 0], [1, 0]]
    for entry in meta["shards"]:
        path = os.path.join(dataset_dir, entry["file"])
        assert sha256_file(path) == entry["sha256"] and os.path.getsize(path) == entry["bytes"]
        with np.load(path, allow_pickle=False) as f:
            has_carry = any(k.startswith("carry__") for k in f.files)
        assert has_carry == (entry["window_stop"] < T)


def test_streaming_and_slice_selection(dataset_dir, arrays):
    ds = load_dataset(dataset_dir)
    seen = 0
    for _, data in ds.iter_shards(["loss"]):
        assert isinstance(data["loss"], np.memmap)
        seen += data["loss"].size
    assert seen == ds.num_transitions
    part = ds.arrays(["obs"], slices=slice(4, 9))["obs"]
    np.testing.assert_array_equal(part, arrays["obs"][:, 4:9])
    flat = ds.flat(["loss"])["loss"]
    np.testing.assert_array_equal(flat, arrays["loss"].reshape(-1))


def test_agent_arrays_of_a_dataset(dataset_dir, arrays):
    agent = to_agent_arrays(load_dataset(dataset_dir))
    n = T * 2 * S
    assert agent["state"].shape == (n, 8) and agent["done"].shape == (n,)
    np.testing.assert_allclose(agent["reward"], 1.0 - arrays["loss"].reshape(-1))
    assert agent["action"].min() >= -1.0 and agent["action"].max() <= 0.2 + 1e-6  # r <= 60 of 100
    np.testing.assert_allclose(agent["granted"], 2.0 * arrays["granted"].reshape(-1, 8) / 100 - 1)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("delete", "missing"),
        ("truncate", "truncated"),
        ("flip", "SHA-256"),
        ("incomplete", "incomplete"),
        ("meta", "no meta.json"),
    ],
)
def test_damaged_datasets_fail_clearly(dataset_dir, tmp_path, damage, message):
    folder = str(tmp_path / "copy")
    shutil.copytree(dataset_dir, folder)
    meta_path = os.path.join(folder, "meta.json")
    with open(meta_path) as f:
        meta = json.load(f)
    shard = os.path.join(folder, meta["shards"][2]["file"])
    if damage == "delete":
        os.remove(shard)
    elif damage == "truncate":
        with open(shard, "r+b") as f:
            f.truncate(os.path.getsize(shard) - 100)
    elif damage == "flip":  # same size, one byte changed inside the actions
        with zipfile.ZipFile(shard) as z:
            info = z.getinfo("action.npy")
        with open(shard, "r+b") as f:
            f.seek(info.header_offset + info.compress_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "incomplete":
        meta["complete"] = False
        write_meta(folder, meta)  # as an interrupted writer leaves it (sealed)
    else:
        os.remove(meta_path)
    with pytest.raises(DatasetError, match=message):
        load_dataset(folder)
    if damage == "flip":
        load_dataset(folder, verify=False)  # sizes and headers still fine


def test_resume_after_an_interrupted_run_gives_the_same_data(dataset_dir, arrays, tmp_path):
    folder = str(tmp_path / "resumed")
    shutil.copytree(dataset_dir, folder)
    meta_path = os.path.join(folder, "meta.json")
    with open(meta_path) as f:
        meta = json.load(f)
    # a crash while writing set 1: its second shard is damaged, later ones never listed,
    # one written but not yet listed, and a temporary file is left behind
    meta["complete"] = False
    meta["shards"] = meta["shards"][:6]
    write_meta(folder, meta)
    damaged = os.path.join(folder, meta["shards"][5]["file"])
    with open(damaged, "r+b") as f:
        f.truncate(1000)
    open(os.path.join(folder, "shard-s01-w000000032.npz.tmp"), "wb").close()
    with pytest.raises(DatasetError, match="incomplete"):
        load_dataset(folder)
    with pytest.raises(DatasetError, match="already holds"):
        _generate(folder)
    with pytest.raises(DatasetError, match="generation"):
        _generate(folder, resume=True, seed=4)
    summary = _generate(folder, resume=True)
    assert summary["transitions"] == (T - C) * S  # set 1 from window 16 on
    resumed = load_dataset(folder).arrays()
    for k in arrays:
        np.testing.assert_array_equal(resumed[k], arrays[k], err_msg=k)
    assert not [n for n in os.listdir(folder) if n.endswith(".tmp")]


def test_cli_gen_dataset(tmp_path, capsys):
    out = str(tmp_path / "cli")
    argv = ["gen-dataset", "--dataset-config", "0", "--slices", str(S), "--windows", str(T),
            "--episode-len", str(E), "--chunk-windows", str(C), "--no-progress", "--out", out]  # fmt: skip
    assert main(argv) == 0
    assert "mean loss" in capsys.readouterr().out
    ds = load_dataset(out)
    assert ds.num_slices == S and ds.meta["info"]["dataset_config"] == 0
    assert ds.meta["generation"]["seed"] == 999  # the config's seed by default
    assert main(argv) == 2  # the folder holds a dataset: refused without --resume
    assert main([*argv, "--resume"]) == 0  # complete already: nothing to do


def _rows_of(buf) -> set:
    """Rows of a replay buffer's filled part as hashable (obs, action, reward) tuples."""
    n = int(buf.size)
    obs, act, rew = (np.asarray(x)[:n] for x in (buf.data.obs, buf.data.action, buf.data.reward))
    return {(o.tobytes(), a.tobytes(), r.tobytes()) for o, a, r in zip(obs, act, rew)}


def test_stream_that_fits_holds_every_row(dataset_dir, monkeypatch):
    from difsched_jax.data import stream

    monkeypatch.setattr(stream, "BLOCK_ROWS", 40)  # several blocks per shard
    ds = load_dataset(dataset_dir)
    st = stream.OfflineStream(ds, capacity=10**6)
    assert st.fits and st.capacity == ds.num_transitions and len(st.blocks) > len(ds.shards)
    buf = st.buffer_after(st.capacity)
    agent = to_agent_arrays(ds)
    want = {
        (o.tobytes(), a.tobytes(), r.tobytes())
        for o, a, r in zip(agent["state"], agent["granted"], agent["reward"])
    }
    assert int(buf.size) == ds.num_transitions and _rows_of(buf) == want
    assert st.refresh(buf, st.capacity, 50) is buf  # nothing to stream in


@pytest.mark.slow
def test_stream_larger_than_the_buffer_rebuilds_exactly(dataset_dir, monkeypatch):
    from difsched_jax.data import stream

    monkeypatch.setattr(stream, "BLOCK_ROWS", 40)
    ds = load_dataset(dataset_dir)
    cap, refresh = 150, 70
    st = stream.OfflineStream(ds, capacity=cap, executed=False, seed=1)
    assert not st.fits
    buf = st.buffer_after(cap)
    seen = [_rows_of(buf)]
    for k in range(1, 12):  # past one pass over the 600 rows: a new shuffled order
        buf = st.refresh(buf, cap + (k - 1) * refresh, refresh)
        seen.append(_rows_of(buf))
        rebuilt = st.buffer_after(cap + k * refresh)  # what a resumed run builds
        for a, b in zip(jax.tree.leaves(buf), jax.tree.leaves(rebuilt)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    agent = to_agent_arrays(ds)
    every = {
        (o.tobytes(), a.tobytes(), r.tobytes())
        for o, a, r in zip(agent["state"], agent["action"], agent["reward"])
    }
    assert all(len(rows) <= cap and rows <= every for rows in seen)
    assert set().union(*seen) == every  # the stream reaches every row
    assert seen[1] != seen[0]


def test_stream_rejects_a_bad_capacity(dataset_dir):
    from difsched_jax.data.stream import OfflineStream

    with pytest.raises(ValueError, match="positive integer"):
        OfflineStream(load_dataset(dataset_dir), capacity=0)


@pytest.mark.slow
def test_noisy_behaviour_spreads_the_requests_around_the_mdp_policy():
    from difsched_jax.data.policy import noisy_mdp_act

    _, policies, _ = _inputs()
    noisy, facts = behaviour_policies(CONFIG, noise=0.5)
    assert facts["behaviour_noise"] == 0.5 and noisy[0][0] is noisy_mdp_act
    act, params = policies[0]
    obs = jnp.asarray(np.random.default_rng(0).integers(0, 120, (4000, 8)), jnp.int32)
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    base = np.asarray(jax.vmap(act, (None, 0, 0))(params, keys, obs))
    r = np.asarray(jax.vmap(noisy_mdp_act, (None, 0, 0))(noisy[0][1], keys, obs))
    assert r.min() >= 0.0 and not np.array_equal(r, base)
    inside = base >= 30  # 4.8 std from the clip at 0: unbiased, std 0.5 · B/N = 6.25 blocks
    d = (r - base)[inside]
    assert abs(d.mean()) < 0.5 and abs(d.std() - 6.25) < 0.3
    with pytest.raises(ValueError, match="noise"):
        behaviour_policies(CONFIG, noise=-1.0)
