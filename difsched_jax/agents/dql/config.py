"""Frozen, validated settings of the diffusion Q-learning agent (SPEC §5).

`DQLConfig` is static under jit (hashable): change a field and the update
compiles again. Presets: `DQLConfig.with_bc(...)` and `DQLConfig.without_bc(...)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from difsched_jax.config import check_positive

MATMUL_DTYPES = ("float32", "bfloat16")
NETWORKS = ("mlp", "equivariant")
CRITIC_STRUCTURES = ("additive", "weighted")
TEACHERS = ("none", "argmax")
ACTOR_SPACES = ("box", "fair_share")


@dataclass(frozen=True)
class DQLConfig:
    state_dim: int  # N users (state s = 2u/L − 1)
    action_dim: int  # N users (action a in [−1, 1]^N)
    window: int = 200  # L, for counts → state in the policy adapter
    budget: float = 100.0  # B, for action → resource blocks in the policy adapter
    # diffusion
    num_steps: int = 30  # T
    beta_min: float = 0.1
    beta_max: float = 10.0  # the paper's; the reference used 1.0 (ᾱ_T ≈ 0.58)
    # DDIM: clip each step's prediction of the clean action to [−1, 1] (Diffusion-QL's
    # clip_denoised; off = SPEC §5 / the reference's loop). Without BC the chain
    # otherwise leaves the box by tens (an actor trained on one-shot â0 only).
    clip_denoised: bool = False
    t_dim: int = 128  # sinusoidal step embedding
    # "mlp": SPEC §5's networks on the whole vector; "equivariant": shared per-user
    # layers with a pooled context (see `equivariant`), `user_hidden` features per user
    network: str = "mlp"
    hidden: int = 128
    user_hidden: int = 64
    # equivariant critic: "additive" Q = mean_i q(s, a_i); "weighted" Q = b(s) + Σ c_i(s)g(r_i),
    # g non-decreasing on the resource-block grid (`equivariant.WeightedCritic`)
    critic_structure: str = "additive"
    # weighted critic: penalty on g's total rise g(B) − g(0), added to the critic loss, so
    # g stays flat where the data never go (rewards are in [0, 1]: the scale is fixed)
    rise_penalty: float = 1e-4
    dropout: float = 0.05  # actor, training only
    actor_layer_norm: bool = True  # the reference's `layer_norm` reaches the actor only
    critic_layer_norm: bool = False  # the reference hard-codes False for the critic
    num_critics: int = 8  # per ensemble; two ensembles (Q1, Q2)
    # learning
    gamma: float = 0.99
    lr: float = 5e-4
    lr_decay_steps: int = 5_000  # cosine decay to 0 over this many updates (0: constant lr)
    grad_clip: float = 3.0  # global-norm clip, per network
    batch_size: int = 100
    lcb_coef: float = 0.15
    q_sample_eta: float = 1.0  # DDIM η of the target actor in the critic target
    max_q_backup: bool = False
    max_q_samples: int = 10
    w_bc: float = 1.0
    w_q: float = 1.0
    w_e: float = 0.01
    mask_done: bool = False  # episode ends are time limits here: bootstrap through them
    # Q-loss on clip(â0, −1, 1) (ours); False: on the raw one-shot â0 (SPEC §5)
    q_action_clip: bool = True
    # with q_action_clip: pass the Q-gradient straight through the clip (a plain clip
    # has zero gradient outside the box, where no-BC actors then stayed for good)
    q_clip_straight_through: bool = True
    # ours: every action (candidates, Q-loss, critic target) rescaled to spend exactly
    # B; False (SPEC §5): raw actions, over-allocation cut at random by the budget rule
    budget_projection: bool = False
    # with budget_projection: weight of a penalty keeping Σr/B of the actor's clipped
    # one-shot â0 within [½, 3/2]. The projection makes Q blind to the scale of â0,
    # which otherwise drifts until every user sits at r = 0 (the projection then falls
    # back to equal share).
    w_budget: float = 1.0
    # acting: one more candidate beside the DDIM ones, the additive critic's exact best
    # allocation spending B (`argmax.py`; needs equivariant networks and the projection)
    critic_argmax: bool = False
    # the critic teaches the actor: "argmax" adds a cloning term (noise-prediction MSE,
    # weight w_teacher) on the critic's exact best allocation of each batch state, so the
    # actor's own samples make the critic's choice (PA-RL's "improve, then distil"; the
    # oracle never teaches). Needs an additive critic, as critic_argmax.
    teacher: str = "none"
    w_teacher: float = 1.0
    # DDIM steps when acting (0: all num_steps), spread evenly with T kept: one network
    # evaluation each. A teacher's target is one action per state, which the denoiser
    # predicts from any step, so few steps decide as well (README, issue 23 ablation).
    sample_steps: int = 0
    # the space the actor diffuses in (`sampling.space_scale`): "box", the action itself;
    # "fair_share", the allocation in units of B/N around equal share (a block is N/2
    # times larger there, so denoising errors misplace fewer blocks)
    actor_space: str = "box"
    # targets
    ema_tau: float = 0.001
    ema_period: int = 20
    ema_start: int = 1_000  # EMA when step % period == 0 and step > start (as the reference)
    # speed: dtype of the 128×128 hidden matmuls (accumulation and params stay float32)
    matmul_dtype: str = "float32"

    def __post_init__(self):
        name = type(self).__name__
        check_positive(
            self,
            *("state_dim", "action_dim", "window", "num_steps", "t_dim", "hidden", "user_hidden"),
            *("num_critics", "batch_size", "max_q_samples", "ema_period"),
        )
        if self.num_critics < 2:
            raise ValueError(
                f"{name}.num_critics must be ≥ 2 (the LCB uses a std), got {self.num_critics}"
            )
        if not 0.0 <= self.beta_min < self.beta_max:
            raise ValueError(
                f"{name} needs 0 ≤ beta_min < beta_max, got {self.beta_min}, {self.beta_max}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{name}.dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"{name}.gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.ema_tau <= 1.0:
            raise ValueError(f"{name}.ema_tau must be in (0, 1], got {self.ema_tau}")
        for f in ("lr", "grad_clip", "budget"):
            if not getattr(self, f) > 0:
                raise ValueError(f"{name}.{f} must be positive, got {getattr(self, f)}")
        for f in (
            "lcb_coef",
            "q_sample_eta",
            "w_bc",
            "w_q",
            "w_e",
            "w_budget",
            "w_teacher",
            "sample_steps",
            "rise_penalty",
            "lr_decay_steps",
            "ema_start",
        ):
            if getattr(self, f) < 0:
                raise ValueError(f"{name}.{f} must be ≥ 0, got {getattr(self, f)}")
        if self.network not in NETWORKS:
            raise ValueError(f"{name}.network must be one of {NETWORKS}, got {self.network!r}")
        if self.critic_structure not in CRITIC_STRUCTURES:
            raise ValueError(
                f"{name}.critic_structure must be one of {CRITIC_STRUCTURES}, "
                f"got {self.critic_structure!r}"
            )
        if self.critic_structure == "weighted" and self.budget != int(self.budget):
            raise ValueError(
                f"{name}: the weighted critic's g lives on the resource-block grid 0..B, so "
                f"budget must be a whole number, got {self.budget}"
            )
        if self.network == "equivariant" and self.state_dim != self.action_dim:
            raise ValueError(
                f"{name}: equivariant networks need state_dim == action_dim (one of each per "
                f"user), got {self.state_dim}, {self.action_dim}"
            )
        if self.critic_argmax and not (self.network == "equivariant" and self.budget_projection):
            raise ValueError(
                f"{name}.critic_argmax needs network='equivariant' (an additive critic) and "
                "budget_projection=True (allocations that spend B)"
            )
        if self.actor_space not in ACTOR_SPACES:
            raise ValueError(
                f"{name}.actor_space must be one of {ACTOR_SPACES}, got {self.actor_space!r}"
            )
        if self.teacher not in TEACHERS:
            raise ValueError(f"{name}.teacher must be one of {TEACHERS}, got {self.teacher!r}")
        if self.teacher == "argmax" and not (
            self.network == "equivariant" and self.budget_projection
        ):
            raise ValueError(
                f"{name}.teacher='argmax' needs network='equivariant' (an additive critic) and "
                "budget_projection=True (allocations that spend B)"
            )
        if self.sample_steps > self.num_steps:
            raise ValueError(
                f"{name}.sample_steps must be at most num_steps ({self.num_steps}), "
                f"got {self.sample_steps}"
            )
        if self.matmul_dtype not in MATMUL_DTYPES:
            raise ValueError(
                f"{name}.matmul_dtype must be one of {MATMUL_DTYPES}, got {self.matmul_dtype!r}"
            )

    @classmethod
    def with_bc(cls, num_users: int, **overrides) -> DQLConfig:
        """SPEC §5 hyper-parameters with behaviour cloning."""
        return cls(state_dim=num_users, action_dim=num_users, **overrides)

    @classmethod
    def without_bc(cls, num_users: int, **overrides) -> DQLConfig:
        """SPEC §5 without behaviour cloning: lr 5e-3, lcb_coef 0.01, w_bc 0."""
        kw = {"lr": 5e-3, "lcb_coef": 0.01, "w_bc": 0.0, **overrides}
        return cls(state_dim=num_users, action_dim=num_users, **kw)

    def replace(self, **changes) -> DQLConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DQLConfig:
        return cls(**d)
