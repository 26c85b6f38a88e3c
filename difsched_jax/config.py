"""Frozen, validated configs and the indexed registries of SPEC §2.

Four kinds, by index, exactly as in the reference system:
sub-agent configs (MDP sub-policies), dataset configs (offline data),
env configs (evaluation environment) and experiment configs (which ties them).
Every config validates itself at construction and raises ``ValueError``
naming the offending field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

FLOWS = ("thumb_fr", "thumb_bk")
# traffic model name -> its module (`env.traffic_models`); a new model is one line here
TRAFFIC_MODELS = {
    "trace": "difsched_jax.env.traffic_models.trace",
    "markov": "difsched_jax.env.traffic_models.markov",
}
EXPANDED_SIGMOID_K = (0.1, 0.2, 0.3, 0.4, 0.5)
# Allocation semantics: "integer" (the default) executes whole resource blocks, Σ r_i ≤ B
# (`env.channel.whole_blocks`); "reference" keeps the reference system's real-valued
# allocation, whose channel grid rounds up (12.0001 blocks buy 13), to reproduce its figures.
ALLOCATIONS = ("integer", "reference")
# What a window costs (its reward is 1 minus it, `env.core.loss_to_reward`): "loss" the
# packet-loss rate (SPEC §1, a sum over users), "worst_user" the most packets any one user
# loses, divided by the window length L (no knapsack decides it: `agents.worst_user`).
OBJECTIVES = ("loss", "worst_user")


def check_positive_int(label: str, value) -> None:
    """Raise ``ValueError("{label} must be a positive integer, got ...")`` unless
    `value` is an int > 0 (a bool is refused)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{label} must be a positive integer, got {value!r}")


def check_traffic(owner: str, name: str) -> None:
    if name not in TRAFFIC_MODELS:
        raise ValueError(f"{owner}.traffic must be one of {tuple(TRAFFIC_MODELS)}, got {name!r}")


def describe_allocation(name: str) -> str:
    """One phrase for headers: the semantics in force."""
    return {
        "integer": "integer (whole resource blocks, Σ r ≤ B)",
        "reference": "reference (real allocations, the channel grid rounds up)",
    }[name]


def check_objective(owner: str, name: str) -> None:
    if name not in OBJECTIVES:
        raise ValueError(f"{owner}.objective must be one of {OBJECTIVES}, got {name!r}")


def describe_objective(name: str) -> str:
    return {
        "loss": "loss (packet-loss rate of the slice)",
        "worst_user": "worst_user (most packets one user loses / L)",
    }[name]


def check_allocation(owner: str, name: str) -> None:
    if name not in ALLOCATIONS:
        raise ValueError(f"{owner}.allocation must be one of {ALLOCATIONS}, got {name!r}")


def check_positive(obj, *names: str) -> None:
    """`check_positive_int` on each named field of `obj`, labelled ``Type.field``."""
    for name in names:
        check_positive_int(f"{type(obj).__name__}.{name}", getattr(obj, name))


def _check_flow(obj) -> None:
    if obj.flow not in FLOWS:
        raise ValueError(f"{type(obj).__name__}.flow must be one of {FLOWS}, got {obj.flow!r}")


def _check_sigmoid(obj) -> None:
    name = type(obj).__name__
    if len(obj.sigmoid_k) == 0:
        raise ValueError(f"{name}.sigmoid_k is empty: give at least one channel pair")
    if len(obj.sigmoid_s) == 0:
        raise ValueError(f"{name}.sigmoid_s is empty: give at least one channel pair")
    if len(obj.sigmoid_k) != len(obj.sigmoid_s):
        raise ValueError(
            f"{name}.sigmoid_k and {name}.sigmoid_s differ in length "
            f"({len(obj.sigmoid_k)} vs {len(obj.sigmoid_s)}): give one s per k"
        )
    for fname in ("sigmoid_k", "sigmoid_s"):
        for v in getattr(obj, fname):
            if not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
                raise ValueError(f"{name}.{fname} must hold finite numbers, got {v!r}")


def _check_user_map(obj) -> None:
    name = type(obj).__name__
    if len(obj.user_map) == 0:
        raise ValueError(f"{name}.user_map is empty")
    users = [u for group in obj.user_map for u in group]
    if any(len(group) == 0 for group in obj.user_map):
        raise ValueError(f"{name}.user_map has an empty group: {obj.user_map}")
    if sorted(users) != list(range(obj.num_users)):
        raise ValueError(
            f"{name}.user_map must partition users 0..{obj.num_users - 1} "
            f"(each exactly once), got {obj.user_map}"
        )


def _as_tuple(x):
    if isinstance(x, (list, tuple)):
        return tuple(_as_tuple(v) for v in x)
    return x


def consecutive_user_map(num_users: int, group_size: int = 4) -> tuple[tuple[int, ...], ...]:
    """User groups [0..3], [4..7], ... (the reference's user_map)."""
    return tuple(
        tuple(range(i, min(i + group_size, num_users))) for i in range(0, num_users, group_size)
    )


class _Frozen:
    """Shared helpers: tuple coercion of list fields and dict conversion."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, _as_tuple(value))
            elif isinstance(value, tuple):
                object.__setattr__(self, f.name, _as_tuple(value))
        self.validate()

    def validate(self) -> None:  # pragma: no cover - overridden
        pass

    @property
    def sigmoid_pairs(self) -> tuple[tuple[float, float], ...]:
        """(k, s) pairs formed with zip, as the reference does (longer list is cut)."""
        return tuple((float(k), float(s)) for k, s in zip(self.sigmoid_k, self.sigmoid_s))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
        return cls(**d)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SubAgentConfig(_Frozen):
    """An MDP sub-policy's small slice (SPEC §3): 4 users, B = 60, 5 levels, 4 bins."""

    flow: str
    num_users: int = 4
    window: int = 200
    budget: int = 60
    num_levels: int = 5  # N_r: allocation levels linspace(0, B, N_r) per user
    num_bins: int = 4  # N_aggregation
    sigmoid_k: tuple[float, ...] = (0.3,)
    sigmoid_s: tuple[float, ...] = (10.0,)
    r_bar: int = 5
    seed: int = 999
    gamma: float = 0.99
    theta: float = 1e-6

    def validate(self) -> None:
        check_positive(self, "num_users", "window", "budget", "num_levels", "num_bins")
        _check_flow(self)
        _check_sigmoid(self)
        if self.num_bins > self.window + 1:
            raise ValueError(
                f"SubAgentConfig.num_bins must be at most window + 1, got {self.num_bins}"
            )
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"SubAgentConfig.gamma must be in (0, 1), got {self.gamma}")
        if not self.theta > 0:
            raise ValueError(f"SubAgentConfig.theta must be positive, got {self.theta}")


@dataclass(frozen=True)
class SliceConfig(_Frozen):
    """A slice: users, budget, traffic flow, channel pairs and sub-agent layout.

    Base of DatasetConfig and EnvConfig (which share every field).
    ``sub_agents`` is a list of sets; each set names one sub-agent config per
    user group of ``user_map`` (the reference's ``sub_agents_idx``).
    """

    num_users: int
    budget: int
    flow: str
    sigmoid_k: tuple[float, ...]
    sigmoid_s: tuple[float, ...] = ()
    sub_agents: tuple[tuple[int, ...], ...] = ()
    user_map: tuple[tuple[int, ...], ...] = ()
    window: int = 200
    r_bar: int = 5
    num_bins: int = 4
    seed: int = 999
    traffic: str = "trace"
    allocation: str = "integer"  # `ALLOCATIONS`: whole blocks, or the reference's ceil
    objective: str = "loss"  # `OBJECTIVES`: what a window costs

    def __post_init__(self):
        if not self.sigmoid_s and self.sigmoid_k:
            object.__setattr__(self, "sigmoid_s", tuple(10.0 for _ in self.sigmoid_k))
        if not self.user_map and isinstance(self.num_users, int) and self.num_users > 0:
            object.__setattr__(self, "user_map", consecutive_user_map(self.num_users))
        super().__post_init__()

    def validate(self) -> None:
        check_positive(self, "num_users", "budget", "window", "r_bar", "num_bins")
        _check_flow(self)
        _check_sigmoid(self)
        _check_user_map(self)
        check_traffic(type(self).__name__, self.traffic)
        check_allocation(type(self).__name__, self.allocation)
        check_objective(type(self).__name__, self.objective)
        for agent_set in self.sub_agents:
            if len(agent_set) != len(self.user_map):
                raise ValueError(
                    f"{type(self).__name__}.sub_agents: each set needs one sub-agent per user "
                    f"group ({len(self.user_map)}), got {agent_set}"
                )
            for idx in agent_set:
                get_subagent_config(idx)


@dataclass(frozen=True)
class DatasetConfig(SliceConfig):
    """Offline data generation (SPEC §4)."""


@dataclass(frozen=True)
class EnvConfig(SliceConfig):
    """Evaluation environment (SPEC §2)."""


@dataclass(frozen=True)
class ExperimentConfig(_Frozen):
    """(train dataset, test dataset, env) indices."""

    train_dataset: int
    test_dataset: int
    env: int

    def validate(self) -> None:
        get_dataset_config(self.train_dataset)
        get_dataset_config(self.test_dataset)
        get_env_config(self.env)


# --- registries (SPEC §2, exactly the reference's values) -------------------


def _get(registry: dict, kind: str, idx):
    if isinstance(idx, bool) or not isinstance(idx, int) or idx not in registry:
        raise ValueError(f"unknown {kind} config index {idx!r}; known: {sorted(registry)}")
    return registry[idx]


def get_subagent_config(idx: int) -> SubAgentConfig:
    return _get(SUBAGENT_CONFIGS, "sub-agent", idx)


def get_dataset_config(idx: int) -> DatasetConfig:
    return _get(DATASET_CONFIGS, "dataset", idx)


def get_env_config(idx: int) -> EnvConfig:
    return _get(ENV_CONFIGS, "env", idx)


def get_experiment_config(idx: int) -> ExperimentConfig:
    return _get(EXPERIMENT_CONFIGS, "experiment", idx)


SUBAGENT_CONFIGS: dict[int, SubAgentConfig] = {
    0: SubAgentConfig(flow="thumb_fr"),
    1: SubAgentConfig(flow="thumb_bk"),
}


def _slice(cls, users, budget, flow, agent, k_list):
    groups = users // 4
    return cls(
        num_users=users,
        budget=budget,
        flow=flow,
        sigmoid_k=tuple(k_list),
        sigmoid_s=tuple(10.0 for _ in k_list),
        sub_agents=((agent,) * groups,),
    )


_LAYOUT = [  # (users, budget, flow, sub-agent, sigmoid k list)
    (8, 100, "thumb_fr", 0, (0.3,)),
    (20, 200, "thumb_fr", 0, (0.3,)),
    (8, 100, "thumb_fr", 0, EXPANDED_SIGMOID_K),
    (20, 200, "thumb_fr", 0, EXPANDED_SIGMOID_K),
    (8, 100, "thumb_bk", 1, (0.3,)),
    (20, 200, "thumb_bk", 1, (0.3,)),
    (8, 100, "thumb_bk", 1, EXPANDED_SIGMOID_K),
    (20, 200, "thumb_bk", 1, EXPANDED_SIGMOID_K),
]

DATASET_CONFIGS: dict[int, DatasetConfig] = {
    i: _slice(DatasetConfig, *row) for i, row in enumerate(_LAYOUT)
}
ENV_CONFIGS: dict[int, EnvConfig] = {
    i: _slice(EnvConfig, *_LAYOUT[d]) for i, d in enumerate((2, 3, 6, 7))
}
EXPERIMENT_CONFIGS: dict[int, ExperimentConfig] = {
    0: ExperimentConfig(0, 2, 0),
    1: ExperimentConfig(1, 3, 1),
    2: ExperimentConfig(4, 6, 2),
    3: ExperimentConfig(5, 7, 3),
}
