"""Pydantic models for a fully resolved spec: every field typed, described and strict."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)


def _not_bool(value: Any) -> Any:
    """Reject true/false where a number is expected (pydantic would read them as 1/0)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]
PositiveInt = Annotated[Int, Field(gt=0)]
NonNegativeInt = Annotated[Int, Field(ge=0)]
PositiveFloat = Annotated[Float, Field(gt=0)]
Probability = Annotated[Float, Field(gt=0, le=1)]
Precision = Annotated[
    Literal["fp32", "bf16"],
    Field(
        description="Precision of the networks' matmuls: fp32, or bf16 through torch.autocast "
        "(weights, optimiser state, normalisation statistics, losses and log-probabilities stay "
        "fp32). fp32 is left out of the resolved spec, so specs from before this field hash as "
        "they did.",
        exclude_if=lambda value: value == "fp32",
    ),
]


class StrictModel(BaseModel):
    """Base for every spec model: unknown keys are errors, values are frozen once validated.

    Numbers must be finite: JSON has no inf or NaN, so spec.json would store them as null
    while the hash saw them, and no setting means anything at infinity.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_plain_json(value: Any, path: str = "") -> None:
    """Raise ValueError, naming the nested key, unless value is JSON as spec.json saves it:
    string keys, and strings, finite numbers, booleans, null, lists and mappings."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path or 'mapping'}: key {key!r} must be a string")
            check_plain_json(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_plain_json(item, f"{path}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path}: {value} is not a finite number")
    elif value is not None and not isinstance(value, str | int | float):
        raise ValueError(f"{path}: {type(value).__name__} values are not allowed")


# ---------------------------------------------------------------------------- networks


class NoNorm(StrictModel):
    """No normalisation layers."""

    type: Literal["none"] = Field("none", description="No normalisation.")


class LayerNormSpec(StrictModel):
    """LayerNorm after each hidden Linear layer."""

    type: Literal["layer"] = Field("layer", description="LayerNorm after each hidden Linear.")


class BatchRenormSpec(StrictModel):
    """Batch Renormalization (Ioffe 2017) on the input and after each hidden activation."""

    type: Literal["batch_renorm"] = Field(
        "batch_renorm", description="BatchRenorm on the input and after each hidden activation."
    )
    momentum: Probability = Field(
        0.01, description="Running-statistics momentum, PyTorch convention (0.01 = Flax 0.99)."
    )
    eps: PositiveFloat = Field(1e-3, description="Added to the variance before the square root.")
    r_max: Annotated[Float, Field(ge=1)] = Field(3.0, description="Clamp for the scale r.")
    d_max: Annotated[Float, Field(ge=0)] = Field(5.0, description="Clamp for the shift d.")
    warmup_steps: NonNegativeInt = Field(
        100_000, description="Training forward passes with plain batch norm before r, d apply."
    )


NormSpec = Annotated[NoNorm | LayerNormSpec | BatchRenormSpec, Field(discriminator="type")]


class NetSpec(StrictModel):
    """A multilayer perceptron: hidden sizes, activation and normalisation."""

    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [256, 256], description="Width of each hidden layer."
    )
    activation: Literal["relu", "tanh", "elu", "gelu", "silu"] = Field(
        "relu", description="Activation after each hidden layer."
    )
    norm: NormSpec = Field(default_factory=NoNorm, description="Normalisation layers.")

    @field_validator("norm", mode="before")
    @classmethod
    def _norm_shorthand(cls, value: Any) -> Any:
        """Accept `norm: layer` as shorthand for `norm: {type: layer}`."""
        return {"type": value} if isinstance(value, str) else value


def _check_batch_renorm_batch(batch_size: int, **nets: NetSpec) -> None:
    """BatchRenorm trains on batch statistics, which one sample does not have."""
    for key, net in nets.items():
        if net.norm.type == "batch_renorm" and batch_size < 2:
            raise ValueError(
                f"{key}.norm is batch_renorm, which needs batch_size >= 2 (got {batch_size})"
            )


# ---------------------------------------------------------------------------- algorithms


class ReplayCommon(StrictModel):
    """Settings shared by the algorithms that learn from a replay buffer (SAC, CrossQ, DQN)."""

    gamma: Probability = Field(0.99, description="Discount factor.")
    batch_size: PositiveInt = Field(256, description="Transitions per gradient update.")
    learning_starts: NonNegativeInt = Field(
        5000, description="Env frames of uniform random actions before updates begin."
    )
    utd: PositiveFloat = Field(
        1.0, description="Gradient updates per env frame (update-to-data ratio, per frame)."
    )
    max_grad_norm: PositiveFloat | None = Field(
        None, description="Clip each gradient to this global norm; null = no clipping."
    )
    precision: Precision = "fp32"

    def horizons(self) -> dict[str, float]:
        """Each schedule's name -> the frame at which it ends (none here)."""
        return {}

    def check_context(self, spec: Spec) -> None:
        """Raise ValueError if these settings do not fit the rest of the spec."""
        if self.batch_size > spec.memory.capacity:
            raise ValueError(
                f"algorithm.batch_size ({self.batch_size}) is larger than memory.capacity "
                f"({spec.memory.capacity})"
            )


class OffPolicyCommon(ReplayCommon):
    """Settings shared by the off-policy actor-critic algorithms (SAC, CrossQ)."""

    policy_delay: PositiveInt = Field(
        1, description="Critic updates per actor and temperature update."
    )
    actor_lr: PositiveFloat = Field(3e-4, description="Adam learning rate of the actor.")
    critic_lr: PositiveFloat = Field(3e-4, description="Adam learning rate of the critics.")
    alpha_lr: PositiveFloat = Field(3e-4, description="Adam learning rate of log(alpha).")
    adam_betas: tuple[Probability, Probability] = Field(
        (0.9, 0.999), description="Adam (beta1, beta2) of the actor and critic optimisers."
    )
    alpha_adam_betas: tuple[Probability, Probability] = Field(
        (0.9, 0.999),
        description="Adam (beta1, beta2) of the temperature optimiser. Default: Adam's own, "
        "as in the CrossQ authors' code (optax.adam for the entropy coefficient), "
        "sb3-contrib's CrossQ, SB3's SAC and CleanRL's SAC.",
    )
    init_alpha: PositiveFloat = Field(1.0, description="Initial entropy temperature alpha.")
    autotune_alpha: bool = Field(True, description="Learn alpha to reach the target entropy.")
    target_entropy: Literal["auto"] | Float = Field(
        "auto",
        description="Target policy entropy; auto = -action_dim (continuous) or "
        "target_entropy_scale * log(n_actions) (discrete).",
    )
    target_entropy_scale: Probability = Field(
        0.89,
        description="Fraction of the maximum entropy targeted with discrete actions; 0.89 as "
        "CleanRL's sac_atari.py (SLM-Lab uses 0.6).",
    )
    log_alpha_min: Float = Field(-20.0, description="Lower clamp of log(alpha).")
    log_alpha_max: Float = Field(2.0, description="Upper clamp of log(alpha).")
    n_critics: Annotated[Int, Field(ge=1)] = Field(2, description="Critics; the minimum is used.")
    log_std_min: Float | None = Field(
        None, description="Lower clamp of the Gaussian policy's log std (continuous only; -20)."
    )
    log_std_max: Float | None = Field(
        None, description="Upper clamp of the Gaussian policy's log std (continuous only; 2)."
    )
    actor: NetSpec = Field(default_factory=NetSpec, description="Policy network.")
    critic: NetSpec = Field(default_factory=NetSpec, description="Each Q network.")

    @model_validator(mode="after")
    def _check_ranges(self) -> OffPolicyCommon:
        if self.log_alpha_min >= self.log_alpha_max:
            raise ValueError("log_alpha_min must be below log_alpha_max")
        lo, hi = self.log_std_bounds
        if lo >= hi:
            raise ValueError("log_std_min must be below log_std_max")
        _check_batch_renorm_batch(self.batch_size, actor=self.actor, critic=self.critic)
        return self

    @property
    def log_std_bounds(self) -> tuple[float, float]:
        """The Gaussian policy's log-std clamp, with the usual (-20, 2) where unset."""
        lo = -20.0 if self.log_std_min is None else self.log_std_min
        hi = 2.0 if self.log_std_max is None else self.log_std_max
        return lo, hi


class SACSpec(OffPolicyCommon):
    """Soft Actor-Critic: twin critics with Polyak-averaged target networks."""

    name: Literal["sac"] = Field(description="Algorithm: Soft Actor-Critic.")
    tau: Probability = Field(0.005, description="Polyak coefficient of the target critics.")
    target_update_interval: PositiveInt = Field(
        1, description="Critic updates between target-network updates."
    )


class CrossQSpec(OffPolicyCommon):
    """CrossQ (Bhatt et al., ICLR 2024): SAC without target networks, BatchRenorm critics."""

    name: Literal["crossq"] = Field(description="Algorithm: CrossQ.")
    policy_delay: PositiveInt = Field(3, description="Critic updates per actor update.")
    actor_lr: PositiveFloat = Field(1e-3, description="Adam learning rate of the actor.")
    critic_lr: PositiveFloat = Field(1e-3, description="Adam learning rate of the critics.")
    alpha_lr: PositiveFloat = Field(1e-3, description="Adam learning rate of log(alpha).")
    adam_betas: tuple[Probability, Probability] = Field(
        (0.5, 0.999), description="Adam (beta1, beta2); CrossQ uses beta1 = 0.5."
    )
    actor: NetSpec = Field(
        default_factory=lambda: NetSpec(hidden=[256, 256], norm=BatchRenormSpec()),
        description="Policy network; BatchRenorm by default, as in the CrossQ authors' code "
        "(bn_mode brn_actor) and sb3-contrib's CrossQ actor (batch_norm=True).",
    )
    critic: NetSpec = Field(
        default_factory=lambda: NetSpec(hidden=[1024, 1024], norm=BatchRenormSpec()),
        description="Each Q network; CrossQ needs BatchRenorm here. 1024 wide as sb3-contrib's "
        "default; the paper and RL Zoo use 2048.",
    )

    @model_validator(mode="after")
    def _critic_needs_batch_renorm(self) -> CrossQSpec:
        if self.critic.norm.type != "batch_renorm":
            raise ValueError(
                "CrossQ critics need norm type batch_renorm: without target networks the "
                "cross batch statistics are what keep the bootstrap stable"
            )
        return self


class OnPolicyCommon(StrictModel):
    """Settings shared by the on-policy actor-critic algorithms (PPO, A2C)."""

    gamma: Probability = Field(0.99, description="Discount factor.")
    precision: Precision = "fp32"
    gae_lambda: Probability = Field(
        0.95, description="GAE lambda; 1 gives plain n-step returns over the rollout."
    )
    num_steps: PositiveInt = Field(
        128, description="Env steps per env in each rollout (n of the n-step returns)."
    )
    lr: PositiveFloat = Field(3e-4, description="Learning rate of the optimiser.")
    anneal_lr: bool = Field(
        False, description="Decay the learning rate linearly to 0 at schedule_frames (0 after)."
    )
    schedule_frames: PositiveInt | None = Field(
        None,
        description="Env frames the learning-rate schedule is tuned for: with anneal_lr the rate "
        "reaches 0 here (RL Zoo's n_timesteps of the entry it follows). Stated in the spec, never "
        "the run's max_frame implicitly, so a run trained for other frames keeps its schedule. "
        "null without anneal_lr (left out of the resolved spec).",
        exclude_if=lambda value: value is None,
    )
    ent_coef: Annotated[Float, Field(ge=0)] = Field(0.0, description="Entropy bonus coefficient.")
    vf_coef: PositiveFloat = Field(0.5, description="Value-loss coefficient in the total loss.")
    max_grad_norm: PositiveFloat | None = Field(
        0.5, description="Clip the gradient to this global norm; null = no clipping."
    )
    normalize_advantage: bool = Field(
        True, description="Standardise advantages per minibatch (mean 0, std 1)."
    )
    normalize_reward: bool = Field(
        False,
        description="Divide training rewards by the running std of the discounted return "
        "(as VecNormalize; MuJoCo). Reported returns stay unscaled.",
    )
    shared_network: bool = Field(
        False,
        description="Policy and value heads on one trunk (actor's layers, or one CNN); "
        "then critic must equal actor.",
    )
    log_std_init: Float | None = Field(
        None, description="Initial log std of the Gaussian policy (continuous only; null = 0)."
    )
    ortho_init: bool = Field(
        True,
        description="Orthogonal initialisation (gain sqrt(2) hidden, 0.01 policy head, 1 value "
        "head), SB3's ortho_init; false keeps PyTorch's default init (RL Zoo's gSDE entries).",
    )
    actor: NetSpec = Field(
        default_factory=lambda: NetSpec(hidden=[64, 64], activation="tanh"),
        description="Policy network (after the Nature CNN for image observations).",
    )
    critic: NetSpec = Field(
        default_factory=lambda: NetSpec(hidden=[64, 64], activation="tanh"),
        description="Value network (after the Nature CNN for image observations).",
    )

    @model_validator(mode="after")
    def _check_networks(self) -> OnPolicyCommon:
        for key in ("actor", "critic"):
            if getattr(self, key).norm.type != "none":
                raise ValueError(
                    f"{key}.norm: {cast('PPOSpec | A2CSpec', self).name.upper()} networks take norm none only"
                )
        if self.shared_network and self.actor != self.critic:
            raise ValueError(
                "shared_network is true, so actor and critic are one trunk: set critic equal "
                "to actor"
            )
        if self.anneal_lr and self.schedule_frames is None:
            raise ValueError(
                "anneal_lr is true: set schedule_frames, the frame at which the learning rate "
                "reaches 0 (the frames the spec was tuned for)"
            )
        if not self.anneal_lr and self.schedule_frames is not None:
            raise ValueError(
                "schedule_frames is set, but anneal_lr is false and nothing else uses it; remove it"
            )
        return self

    def horizons(self) -> dict[str, float]:
        """Each schedule's name -> the frame at which it ends."""
        if self.anneal_lr and self.schedule_frames is not None:
            return {"learning rate decays linearly to 0": float(self.schedule_frames)}
        return {}

    def learning_rate(self, frame: int) -> float:
        """The learning rate for updates on data collected up to `frame`."""
        if not self.anneal_lr or self.schedule_frames is None:
            return self.lr
        return self.lr * max(0.0, 1.0 - frame / self.schedule_frames)

    def check_context(self, spec: Spec) -> None:
        """Raise ValueError if these settings do not fit the rest of the spec."""


class PPOSpec(OnPolicyCommon):
    """Proximal Policy Optimization (Schulman et al., 2017), clipped objective with GAE."""

    name: Literal["ppo"] = Field(description="Algorithm: PPO.")
    batch_size: PositiveInt = Field(
        64, description="Transitions per minibatch; a rollout has num_steps x num_envs."
    )
    num_epochs: PositiveInt = Field(10, description="Passes over each rollout.")
    clip_coef: Probability = Field(0.2, description="Clip range of the probability ratio.")
    clip_value_loss: bool = Field(
        False, description="Clip the value update to +-clip_coef around the rollout's values."
    )
    target_kl: PositiveFloat | None = Field(
        None, description="Stop a rollout's epochs once approx KL exceeds this; null = never."
    )

    def check_context(self, spec: Spec) -> None:
        """Raise ValueError if a minibatch is larger than a rollout."""
        rollout = self.num_steps * spec.env.num_envs
        if self.batch_size > rollout:
            raise ValueError(
                f"algorithm.batch_size ({self.batch_size}) is larger than a rollout: "
                f"num_steps x env.num_envs = {self.num_steps} x {spec.env.num_envs} = {rollout}"
            )


class A2CSpec(OnPolicyCommon):
    """Advantage Actor-Critic (Mnih et al., 2016), synchronous: one update per rollout."""

    name: Literal["a2c"] = Field(description="Algorithm: A2C.")
    num_steps: PositiveInt = Field(5, description="Env steps per env in each rollout (n-step).")
    gae_lambda: Probability = Field(
        1.0, description="GAE lambda; 1 gives plain n-step returns over the rollout."
    )
    lr: PositiveFloat = Field(7e-4, description="Learning rate of the optimiser.")
    normalize_advantage: bool = Field(
        False, description="Standardise advantages per rollout (mean 0, std 1)."
    )
    optimizer: Literal["rmsprop", "adam"] = Field(
        "rmsprop", description="RMSprop (alpha 0.99, as SB3/the paper) or Adam."
    )
    optimizer_eps: PositiveFloat = Field(1e-5, description="Epsilon of the optimiser.")


class DQNSpec(ReplayCommon):
    """Deep Q-Network (Mnih et al., 2015) with Double DQN option (van Hasselt et al., 2016)."""

    name: Literal["dqn"] = Field(description="Algorithm: DQN.")
    batch_size: PositiveInt = Field(32, description="Transitions per gradient update.")
    learning_starts: NonNegativeInt = Field(
        1000, description="Env frames of uniform random actions before updates begin."
    )
    utd: PositiveFloat = Field(
        0.25, description="Gradient updates per env frame (0.25 = one update every 4 frames)."
    )
    lr: PositiveFloat = Field(1e-4, description="Adam learning rate.")
    adam_eps: PositiveFloat = Field(1e-8, description="Adam epsilon.")
    tau: Probability = Field(
        1.0, description="Target-network update: 1 = hard copy, below 1 = Polyak averaging."
    )
    target_update_interval: PositiveInt = Field(
        250, description="Gradient updates between target-network updates."
    )
    epsilon_start: Annotated[Float, Field(ge=0, le=1)] = Field(
        1.0, description="Exploration epsilon after learning_starts."
    )
    epsilon_end: Annotated[Float, Field(ge=0, le=1)] = Field(
        0.01, description="Final exploration epsilon."
    )
    exploration_fraction: Probability = Field(
        0.1,
        description="Fraction of schedule_frames over which epsilon decays linearly to its end "
        "(RL Zoo's and SB3's exploration_fraction, of the frames the spec was tuned for).",
    )
    schedule_frames: PositiveInt = Field(
        description="Env frames the spec's epsilon schedule is tuned for (RL Zoo's n_timesteps "
        "of the entry it follows); stated in the spec, never the run's max_frame implicitly."
    )
    eval_epsilon: Annotated[Float, Field(ge=0, le=1)] = Field(
        0.05,
        description="Chance of a uniformly random action in evaluation episodes; greedy "
        "otherwise. 0.05 as CleanRL's DQN evaluation (dqn_eval.py, used by dqn.py and "
        "dqn_atari.py).",
    )
    double_q: bool = Field(
        False, description="Double DQN: the online network picks the next action."
    )
    loss: Literal["huber", "mse"] = Field(
        "huber", description="TD loss: Huber (smooth L1, as Nature DQN) or squared error."
    )
    q_net: NetSpec = Field(
        default_factory=lambda: NetSpec(hidden=[64, 64]),
        description="Q network (after the Nature CNN for image observations).",
    )

    @model_validator(mode="after")
    def _check_epsilon(self) -> DQNSpec:
        if self.epsilon_end > self.epsilon_start:
            raise ValueError("epsilon_end must not be above epsilon_start")
        return self

    @property
    def exploration_frames(self) -> float:
        """Frames over which epsilon decays from epsilon_start to epsilon_end."""
        return self.exploration_fraction * self.schedule_frames

    def horizons(self) -> dict[str, float]:
        """Each schedule's name -> the frame at which it ends."""
        return {"epsilon decays linearly to epsilon_end": self.exploration_frames}

    def check_context(self, spec: Spec) -> None:
        """Raise ValueError unless the env has discrete actions and the batch fits the buffer."""
        super().check_context(spec)
        if known_action_kind(spec.env.id) == "continuous":
            raise ValueError(
                f"DQN needs discrete actions, but {spec.env.id} has continuous actions; "
                "use sac, crossq, ppo or a2c for it"
            )

    @model_validator(mode="after")
    def _check_q_net_batch(self) -> DQNSpec:
        _check_batch_renorm_batch(self.batch_size, q_net=self.q_net)
        return self


AlgorithmSpec = Annotated[
    SACSpec | CrossQSpec | PPOSpec | A2CSpec | DQNSpec, Field(discriminator="name")
]

# The fields above that only make sense for a continuous (Gaussian) policy.
CONTINUOUS_ONLY_FIELDS = ("log_std_min", "log_std_max", "log_std_init")


# ---------------------------------------------------------------------------- env, memory, meta


class AtariSpec(StrictModel):
    """Atari preprocessing (gymnasium's AtariPreprocessing and FrameStackObservation)."""

    noop_max: NonNegativeInt = Field(30, description="Up to this many no-op actions on reset.")
    frame_skip: PositiveInt = Field(
        4, description="Emulator frames per agent step (max-pooled over the last two)."
    )
    screen_size: PositiveInt = Field(84, description="Square grey frame side, in pixels.")
    frame_stack: PositiveInt = Field(4, description="Last frames stacked into one observation.")
    episodic_life: bool = Field(
        True,
        description="A lost life ends the episode for learning (no bootstrap through it); the "
        "game goes on, and scores are full games.",
    )
    clip_reward: bool = Field(
        True, description="Train on rewards clipped to [-1, 1]; reported scores stay unclipped."
    )
    fire_on_reset: bool = Field(
        True,
        description="In games with a FIRE action, press FIRE (then action 2) after a reset, "
        "and after a lost life with episodic_life, as SB3's FireResetEnv (used by CleanRL).",
    )
    repeat_action_probability: Annotated[Float, Field(ge=0, lt=1)] = Field(
        0.25, description="Sticky actions (ALE v5 default, Machado et al. 2018)."
    )
    full_action_space: bool = Field(False, description="All 18 actions instead of the game's.")


MAX_EPISODE_STEPS = 1_000_000
"""Longest time limit a spec may set: evaluation and replays play whole episodes."""


class EnvSpec(StrictModel):
    """The gymnasium environment and how many frames to train on."""

    id: str = Field(description="gymnasium environment id, e.g. Hopper-v5.", min_length=1)
    num_envs: PositiveInt = Field(1, description="Parallel environments in the vector env.")
    vectorization: Literal["sync", "async"] = Field(
        "sync", description="sync steps envs in this process; async uses one process per env."
    )
    max_frame: PositiveInt = Field(description="Total env frames to train for, all envs summed.")
    normalize_obs: bool = Field(False, description="Normalise observations by running stats.")
    max_episode_steps: Annotated[PositiveInt, Field(le=MAX_EPISODE_STEPS)] | None = Field(
        None,
        description="Override the env's time limit (at most 1,000,000 steps); null keeps the "
        "registered one.",
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword arguments passed to gymnasium.make."
    )
    atari: AtariSpec | None = Field(
        None,
        description="Atari preprocessing; filled with defaults for ALE/ ids, null otherwise. "
        "One frame is one agent step (frame_skip emulator frames).",
    )

    @field_validator("kwargs")
    @classmethod
    def _kwargs_are_plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_plain_json(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _atari_defaults(cls, data: Any) -> Any:
        """ALE/ envs always get Atari preprocessing; an explicit null is an error below."""
        is_ale = isinstance(data, dict) and str(data.get("id", "")).startswith("ALE/")
        if is_ale and "atari" not in data:
            data = {**data, "atari": {}}
        return data

    @model_validator(mode="after")
    def _atari_only_for_ale(self) -> EnvSpec:
        is_ale = self.id.startswith("ALE/")
        if self.atari is not None and not is_ale:
            raise ValueError(f"atari settings apply to ALE/ envs only, not {self.id}; remove them")
        if self.atari is None and is_ale:
            raise ValueError(f"{self.id} needs atari preprocessing; remove 'atari: null'")
        return self


class MemorySpec(StrictModel):
    """The replay buffer."""

    capacity: PositiveInt = Field(1_000_000, description="Transitions kept in the replay buffer.")


MAX_SEEDS = 1000
"""Most seeds one run may have (each is a process-sized session and a seed-K folder)."""
SEED_LIMIT = 2**32
"""Seeds must be below this: numpy's global seed is a 32-bit unsigned integer."""


class MetaSpec(StrictModel):
    """Seeds and the cadence of logging, evaluation and checkpoints, in env frames."""

    seeds: Annotated[PositiveInt, Field(le=MAX_SEEDS)] = Field(
        1, description="Independent runs (sessions) with seeds base_seed+k."
    )
    base_seed: Annotated[NonNegativeInt, Field(lt=SEED_LIMIT)] = Field(
        0, description="Seed of the first run."
    )
    log_interval: PositiveInt = Field(1000, description="Env frames between metrics rows.")
    eval_interval: PositiveInt = Field(10_000, description="Env frames between evaluations.")
    eval_episodes: Annotated[PositiveInt, Field(le=1000)] = Field(
        10,
        description="Episodes per deterministic evaluation (one env each, all alive at once, so "
        "at most 1000; `rlpipe eval --episodes` runs more in batches).",
    )
    checkpoint_interval: PositiveInt = Field(
        50_000, description="Env frames between resumable checkpoints."
    )
    return_window: PositiveInt = Field(
        100, description="Training episodes in the return moving average (the score)."
    )

    @model_validator(mode="after")
    def _seeds_fit_numpy(self) -> MetaSpec:
        last = self.base_seed + self.seeds - 1
        if last >= SEED_LIMIT:
            raise ValueError(
                f"the last seed, base_seed + seeds - 1 = {last}, must be below 2^32 "
                f"({SEED_LIMIT}), numpy's seed limit; lower base_seed"
            )
        return self

    @property
    def seed_list(self) -> list[int]:
        """The seeds of every run, in order."""
        return [self.base_seed + k for k in range(self.seeds)]


# ---------------------------------------------------------------------------- the spec


DISCRETE_ENV_IDS = frozenset({"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3"})


def known_action_kind(env_id: str) -> Literal["discrete", "continuous", "unknown"]:
    """Whether an env id is known, without building it, to have discrete or continuous actions."""
    if env_id in DISCRETE_ENV_IDS or env_id.startswith("ALE/"):
        return "discrete"
    if env_id.endswith(("-v5", "-v4")) or env_id in {
        "Pendulum-v1",
        "MountainCarContinuous-v0",
        "LunarLanderContinuous-v3",
        "BipedalWalker-v3",
    }:
        return "continuous"
    return "unknown"


class Spec(StrictModel):
    """One fully resolved experiment: algorithm, env, memory and meta settings."""

    family: str = Field(description="Pipeline file the spec came from, e.g. crossq.")
    name: str = Field(description="Spec name inside the pipeline file, e.g. hopper.")
    algorithm: AlgorithmSpec = Field(description="Algorithm and its hyperparameters.")
    env: EnvSpec = Field(description="Environment settings.")
    memory: MemorySpec = Field(default_factory=MemorySpec, description="Replay buffer.")
    meta: MetaSpec = Field(default_factory=MetaSpec, description="Seeds and cadence.")

    @model_validator(mode="after")
    def _check_cross_fields(self) -> Spec:
        algo = self.algorithm
        algo.check_context(self)
        if known_action_kind(self.env.id) == "discrete":
            set_here = [f for f in CONTINUOUS_ONLY_FIELDS if getattr(algo, f, None) is not None]
            if set_here:
                raise ValueError(
                    f"{self.env.id} has discrete actions, but algorithm.{set_here[0]} only "
                    "applies to a continuous (Gaussian) policy; remove it"
                )
        return self
