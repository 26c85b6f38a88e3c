"""Same seed, same dataset across refactors: every field of a small dataset (and the
synthetic trace under it) against SHA-256 digests recorded from the code before the
layering refactor (issue 15, commit c9dc472), made under the `reference` allocation
semantics (real allocations, the channel grid rounds up), which must stay byte-identical.
A change to traffic, the env step, the reward or the writer that alters a single bit
fails here; if a change is meant to alter the data, record new digests and say why in
the commit."""

import hashlib
import os

import numpy as np

from difsched_jax.agents.heuristics import equal_share, heuristic_params, random_policy
from difsched_jax.config import get_dataset_config
from difsched_jax.data import generate_dataset, load_dataset
from difsched_jax.traffic import get_trace

DIGESTS = {
    "action": "998b2f3f416eb4c0",
    "actual": "d3d48d807501aae5",
    "done": "dd233c8964798fe9",
    "episode_start": "faaec962cc206e87",
    "granted": "18aa64bd2a35f7f2",
    "loss": "e851aa803e906f5e",
    "next_obs": "7ccaacb736c57dd9",
    "obs": "7ca5d11cbc13f618",
}
TRACE_DIGESTS = {
    "train_actual": "ff6b535eca5e916f",
    "train_predicted": "52f4a9afd43b4f01",
    "test_actual": "07fe77f69a4bf201",
    "test_predicted": "08446d4bbca173e2",
}


def _digest(x) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]


def test_dataset_of_a_fixed_seed_is_bit_identical_to_the_recorded_one(tmp_path):
    cfg = get_dataset_config(0).replace(allocation="reference")
    trace = get_trace(cfg.flow, cfg.window)
    for name, want in TRACE_DIGESTS.items():
        assert _digest(getattr(trace, name)) == want, f"synthetic trace {name} changed"
    policies = [(random_policy, heuristic_params(100)), (equal_share, heuristic_params(100))]
    out = os.path.join(tmp_path, "ds")
    generate_dataset(
        out, cfg, trace, policies, num_slices=4, num_windows=30, episode_len=12, seed=5,
        progress=False,
    )  # fmt: skip
    arrays = load_dataset(out).arrays()
    assert sorted(arrays) == sorted(DIGESTS)
    assert arrays["obs"].shape == (30, 8, 8) and arrays["loss"].shape == (30, 8)
    for name, want in DIGESTS.items():
        assert _digest(arrays[name]) == want, f"dataset field {name} changed"
