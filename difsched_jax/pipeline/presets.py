"""Sizes of a pipeline run: which experiments, how much data, training and evaluation.

"paper" is the reference's protocol at full size (SPEC §4, §5, §7); "quick" is
experiment 0 at a size that finishes in minutes on a laptop CPU (the README's
main-job command); "tiny" only proves that every stage runs (tests).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from difsched_jax.config import get_dataset_config, get_experiment_config


@dataclass(frozen=True)
class Preset:
    name: str
    experiments: tuple[int, ...]  # experiment configs (SPEC §2)
    dataset_slices: int  # offline data: slices × windows per sub-agent set
    dataset_windows: int
    dataset_episode_len: int
    # noisy MDP behaviour: noise std in units of B/N per user (0: the reference's policy)
    behaviour_noise: float = 0.0
    train_run: dict = field(default_factory=dict)  # DQLRunConfig fields (episodes, ...)
    train_agent: dict = field(default_factory=dict)  # DQLConfig fields (num_steps, ...)
    drl: tuple[str, ...] = ()  # online deep-RL baselines to train ("ppo", "sac")
    drl_steps: int = 100_000
    drl_run: dict = field(default_factory=dict)  # drl.make_run_config keywords
    drl_agent: dict = field(default_factory=dict)  # algo -> PPOConfig / SACConfig fields
    eval_slices: int = 64  # test split: independent slices × windows per policy
    eval_windows: int = 200
    eval_episode_len: int = 50  # the reference evaluates 50-window episodes
    scatter_points: int = 4000  # allocation plot: points drawn per policy

    @property
    def train_datasets(self) -> tuple[int, ...]:
        return tuple(sorted({get_experiment_config(e).train_dataset for e in self.experiments}))

    @property
    def subagents(self) -> tuple[int, ...]:
        idx = {i for d in self.train_datasets for s in get_dataset_config(d).sub_agents for i in s}
        return tuple(sorted(idx))

    def replace(self, **changes) -> Preset:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PAPER = Preset(
    name="paper",
    experiments=(0, 1, 2, 3),
    dataset_slices=1,  # the reference: 10 episodes × 1,000 windows
    dataset_windows=10_000,
    dataset_episode_len=1000,
    drl=("ppo", "sac"),
    drl_steps=100_000,
    eval_slices=100,
    eval_windows=200,
)

QUICK = Preset(
    name="quick",
    experiments=(0,),
    dataset_slices=100,  # 100,000 transitions: seconds to generate, the critic needs them
    dataset_windows=1000,
    dataset_episode_len=1000,
    behaviour_noise=0.5,  # coverage of allocations for the critic (never the oracle)
    # 3,000 offline updates (the critic's argmax is near the oracle's by then); EMA
    # starts after 100 updates
    train_run={
        "episodes": 30,
        "updates_per_episode": 100,
        "val_every": 5,
        "val_slices": 16,
        "val_windows": 50,
        "distill_updates": 8_000,  # half the default: the actor within 0.001 of 16,000's
    },
    train_agent={"num_steps": 10, "ema_start": 100},
    eval_slices=32,
    eval_windows=100,
)

# the tiny Diffusion-QL agent and run sizes (seconds on a CPU), shared by the "tiny"
# preset and the trainer's tests
TINY_AGENT = {
    "hidden": 32, "t_dim": 8, "num_steps": 4, "sample_steps": 2, "num_critics": 2,
    "batch_size": 16,
}  # fmt: skip
TINY_RUN = {
    "updates_per_episode": 8,
    "explore_slices": 3,
    "explore_windows": 4,
    "explore_candidates": 3,
    "greedy_slices": 2,
    "eval_candidates": 5,
    "val_every": 2,
    "val_slices": 2,
    "val_windows": 4,
    "episode_len": 3,
    "distill_updates": 20,
}

TINY = QUICK.replace(
    name="tiny",
    dataset_slices=4,
    dataset_windows=60,
    dataset_episode_len=30,
    train_run={"episodes": 2, **TINY_RUN, "rank_critic": "online"},
    train_agent=dict(TINY_AGENT),
    drl_steps=80,
    drl_run={"chunk_steps": 40, "val_slices": 2, "val_windows": 4},
    drl_agent={
        "ppo": {"num_slices": 8, "rollout_len": 5},
        "sac": {"num_slices": 4, "buffer_size": 256, "learning_starts": 16, "batch_size": 16},
    },
    eval_slices=4,
    eval_windows=10,
    eval_episode_len=5,
    scatter_points=200,
)

PRESETS = {p.name: p for p in (QUICK, PAPER, TINY)}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]
