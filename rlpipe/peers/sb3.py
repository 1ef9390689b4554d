"""The Stable-Baselines3 / sb3-contrib twin of a spec: the peer's own SAC, CrossQ, PPO, A2C or
DQN, set up as the spec says. `rlpipe bench --vs sb3` times it; `rlpipe train --peer sb3` trains it.

Mirrored through SB3's own arguments: network widths and activation, number of critics, batch
size, update-to-data ratio (train_freq, gradient_steps), learning starts, buffer, discount, Polyak
tau, policy delay, Adam betas, entropy settings, BatchRenorm momentum, eps and warm-up, the
actor's BatchRenorm as the spec's actor.norm says; for PPO rollout length, minibatch size, epochs,
GAE lambda, clip range, entropy coefficient, advantage normalisation, Adam eps, log-std init and
the number of envs; for A2C its optimiser (RMSprop alpha 0.99 or Adam, and eps); for DQN
buffer, learning starts, update cadence, target-network interval and tau, epsilon schedule,
gradient clipping and Adam eps; observation and reward normalisation through VecNormalize.

Where SB3 has no argument for a setting, the twin sets it on the built model, never changing the
algorithm: each optimiser keeps its own learning rate (SB3 resets all to one rate at every
train()); the temperature's optimiser gets the spec's betas and log(alpha) is clamped after each
step, as rlpipe does; BatchRenorm's r_max/d_max (fixed at 3 and 5 in sb3-contrib) are set on
every layer. Settings translated rather than copied: no gradient clipping is an infinite clip
norm; SB3 reads the learning-rate schedule after a rollout, rlpipe before it, and as a fraction
of the run, rlpipe in frames of schedule_frames (`AnnealedRate`); DQN's target interval counts
rlpipe's updates and SB3's env steps, and its epsilon decays over a fraction of schedule_frames,
SB3's over a fraction of the run. Anything else the spec sets that SB3 cannot do is an error from
`rlpipe.peers.mirror.sb3_unsupported`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import torch
from gymnasium import spaces
from sb3_contrib import CrossQ
from sb3_contrib.common.torch_layers import BatchRenorm
from sb3_contrib.crossq.policies import CrossQPolicy
from stable_baselines3 import A2C, DQN, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import update_learning_rate
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize
from torch import nn

from rlpipe.algos.registry import algorithm
from rlpipe.envs import make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.peers.mirror import peer_class, update_cadence
from rlpipe.spec.schema import (
    A2CSpec,
    BatchRenormSpec,
    CrossQSpec,
    DQNSpec,
    NormSpec,
    OnPolicyCommon,
    PPOSpec,
    SACSpec,
    Spec,
)

if TYPE_CHECKING:
    import gymnasium as gym
    from gymnasium.vector import SyncVectorEnv

    class _HasOptimizer(Protocol):
        @property
        def optimizer(self) -> torch.optim.Optimizer: ...

    class _SoftActorCriticTwin(Protocol):
        """What OwnLearningRates needs of the SAC or CrossQ model it is mixed into."""

        own_rates: tuple[float, float, float]

        @property
        def actor(self) -> _HasOptimizer: ...

        @property
        def critic(self) -> _HasOptimizer: ...

        @property
        def ent_coef_optimizer(self) -> torch.optim.Optimizer | None: ...


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
NORMALIZE_CLIP = 10.0  # rlpipe's ObsNormalizer and RewardScaler clip at 10 ...
NORMALIZE_EPS = 1e-8  # ... and add 1e-8 to the variance, as VecNormalize's defaults
PPO_ADAM_EPS = 1e-5  # rlpipe's PPO optimiser (SB3's default for PPO as well)


class OwnLearningRates:
    """Keeps the actor, critic and temperature optimisers at the spec's own learning rates (SB3
    sets one rate for all of them at every train())."""

    own_rates: tuple[float, float, float]  # actor, critic, temperature

    def _update_learning_rate(
        self: _SoftActorCriticTwin, optimizers: torch.optim.Optimizer | list[torch.optim.Optimizer]
    ) -> None:
        rated = zip((self.actor.optimizer, self.critic.optimizer, self.ent_coef_optimizer),
                    self.own_rates, strict=True)  # fmt: skip
        for optimizer, rate in rated:
            if optimizer is not None:
                update_learning_rate(optimizer, rate)


class SACTwin(OwnLearningRates, SAC):
    """SB3's SAC with each optimiser at its own learning rate."""


class CrossQTwin(OwnLearningRates, CrossQ):
    """sb3-contrib's CrossQ with each optimiser at its own learning rate."""


class CrossQTwinPolicy(CrossQPolicy):
    """sb3-contrib's CrossQ policy with the actor's BatchRenorm on or off on its own
    (sb3-contrib's one `batch_norm` flag sets actor and critics together)."""

    def __init__(self, *args: Any, actor_batch_norm: bool = True, **kwargs: Any) -> None:
        self.actor_batch_norm = actor_batch_norm  # read by make_actor inside super().__init__
        super().__init__(*args, **kwargs)

    def make_actor(self, features_extractor: Any = None) -> Any:
        """The actor, with BatchRenorm only if the spec's actor has it."""
        self.actor_kwargs["batch_norm"] = self.actor_batch_norm
        return super().make_actor(features_extractor)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "actor_batch_norm": self.actor_batch_norm}


TWINS: dict[str, type[BaseAlgorithm]] = {
    "sb3_contrib:CrossQ": CrossQTwin,
    "stable_baselines3:SAC": SACTwin,
    "stable_baselines3:PPO": PPO,
    "stable_baselines3:A2C": A2C,
    "stable_baselines3:DQN": DQN,
}
"""The registry's peer entry -> the class that trains it."""


@dataclass(frozen=True)
class AnnealedRate:
    """rlpipe's learning-rate schedule as an SB3 schedule. SB3 evaluates it after collecting a
    rollout, at its fraction of the run still to go; rlpipe at the rollout's first frame: the
    rate is the spec's at the frame the rollout started, so every rollout trains at the rate
    rlpipe gives it."""

    algo: OnPolicyCommon
    max_frame: int
    rollout: int

    def __call__(self, progress_remaining: float) -> float:
        """The learning rate once a rollout ending at `progress_remaining` is collected."""
        collected = round((1.0 - progress_remaining) * self.max_frame)
        return self.algo.learning_rate(max(0, collected - self.rollout))


def sb3_env(spec: Spec, seed: int) -> VecEnv:
    """rlpipe's training envs for a spec as an SB3 vector env: episode returns of the env's own
    rewards (VecMonitor), under VecNormalize where the spec normalises observations or rewards."""
    algo = spec.algorithm
    # One process: vectorization changes speed, not numbers, and SB3 steps the envs itself.
    env_spec = spec.env.model_copy(update={"vectorization": "sync"})
    rescale = algorithm(algo.name).squashes_actions  # PPO: the env's own units, as SB3's
    singles = cast(
        "SyncVectorEnv",
        make_vec_env(env_spec, seed, training=True, rescale_actions=rescale).unwrapped,
    ).envs
    venv: VecEnv = VecMonitor(
        DummyVecEnv(cast("list[Callable[[], gym.Env]]", [(lambda env=env: env) for env in singles]))
    )
    normalize_reward = bool(getattr(algo, "normalize_reward", False))
    if spec.env.normalize_obs or normalize_reward:
        venv = VecNormalize(
            venv,
            norm_obs=spec.env.normalize_obs,
            norm_reward=normalize_reward,
            clip_obs=NORMALIZE_CLIP,
            clip_reward=NORMALIZE_CLIP,
            gamma=algo.gamma,
            epsilon=NORMALIZE_EPS,
        )
    return venv


def build_model(
    spec: Spec, env: VecEnv, seed: int, device: str, buffer_size: int | None = None
) -> BaseAlgorithm:
    """The SB3 twin of a spec on env (from `sb3_env`); buffer_size defaults to the replay
    capacity rlpipe uses for the run (memory.capacity, or fewer if the run has fewer frames).

    The caller checks the spec with `rlpipe.peers.mirror.sb3_unsupported` first.
    """
    twin = TWINS[peer_class(spec)]
    capacity = buffer_size or min(spec.memory.capacity, spec.env.max_frame)
    if isinstance(spec.algorithm, OnPolicyCommon):
        return _on_policy(twin, spec, env, seed, device)
    if isinstance(spec.algorithm, DQNSpec):
        return _dqn(twin, spec, env, seed, device, capacity)
    if not isinstance(env.action_space, spaces.Box):
        raise RlpipeError(
            f"env.id {spec.env.id} has {type(env.action_space).__name__} actions; SB3's SAC and "
            "sb3-contrib's CrossQ take continuous (Box) actions only"
        )
    capacity = buffer_size or min(spec.memory.capacity, spec.env.max_frame)
    return _soft_actor_critic(twin, spec, env, seed, device, capacity)


def _soft_actor_critic(
    twin: type[BaseAlgorithm], spec: Spec, env: VecEnv, seed: int, device: str, capacity: int
) -> BaseAlgorithm:
    algo = spec.algorithm
    assert isinstance(algo, SACSpec | CrossQSpec)
    cadence = update_cadence(algo.utd, spec.env.num_envs)
    assert cadence is not None, "checked by sb3_unsupported"
    policy_kwargs: dict[str, Any] = {
        "net_arch": {"pi": list(algo.actor.hidden), "qf": list(algo.critic.hidden)},
        "activation_fn": ACTIVATIONS[algo.actor.activation],
        "n_critics": algo.n_critics,
        "optimizer_kwargs": {"betas": tuple(algo.adam_betas)},
    }
    common: dict[str, Any] = {
        "learning_rate": algo.critic_lr,  # the actor's and temperature's are set below
        "buffer_size": capacity,
        "learning_starts": algo.learning_starts,
        "batch_size": algo.batch_size,
        "gamma": algo.gamma,
        "train_freq": cadence[0],
        "gradient_steps": cadence[1],
        "ent_coef": f"auto_{algo.init_alpha}" if algo.autotune_alpha else algo.init_alpha,
        "target_entropy": algo.target_entropy,
        "seed": seed,
        "device": device,
        "verbose": 0,
    }
    if isinstance(algo, SACSpec):
        model = cast("type[SACTwin]", twin)(
            "MlpPolicy", env, tau=algo.tau, policy_kwargs=policy_kwargs, **common
        )
    else:
        critic_norm = algo.critic.norm
        assert isinstance(critic_norm, BatchRenormSpec)
        policy_kwargs |= {
            "batch_norm_momentum": critic_norm.momentum,
            "batch_norm_eps": critic_norm.eps,
            "renorm_warmup_steps": critic_norm.warmup_steps,
            "actor_batch_norm": algo.actor.norm.type == "batch_renorm",
        }
        model = cast("type[CrossQTwin]", twin)(CrossQTwinPolicy, env, policy_delay=algo.policy_delay,
                     policy_kwargs=policy_kwargs, **common)  # fmt: skip
        set_batch_renorm(model.actor, algo.actor.norm)
        set_batch_renorm(model.critic, critic_norm)
    if model.ent_coef_optimizer is not None:
        model.ent_coef_optimizer = torch.optim.Adam(
            [cast("torch.Tensor", model.log_ent_coef)],
            lr=algo.alpha_lr,
            betas=cast("tuple[float, float]", tuple(algo.alpha_adam_betas)),
        )
        model.ent_coef_optimizer.register_step_post_hook(
            _clamp_after_step(
                cast("torch.Tensor", model.log_ent_coef), algo.log_alpha_min, algo.log_alpha_max
            )
        )
    model.own_rates = (algo.actor_lr, algo.critic_lr, algo.alpha_lr)
    model._update_learning_rate([])  # every optimiser at its own rate from the start
    return model


def set_batch_renorm(module: nn.Module, norm: NormSpec) -> None:
    """Give every BatchRenorm layer in module the spec's settings (r_max and d_max included)."""
    for layer in module.modules():
        if isinstance(layer, BatchRenorm):
            assert isinstance(norm, BatchRenormSpec)
            layer.momentum, layer.eps, layer.warmup_steps = (
                norm.momentum,
                norm.eps,
                norm.warmup_steps,
            )
            layer.rmax, layer.dmax = norm.r_max, norm.d_max


def _clamp_after_step(
    log_alpha: torch.Tensor, low: float, high: float
) -> Callable[[torch.optim.Optimizer, Any, Any], None]:
    def clamp(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            log_alpha.clamp_(low, high)

    return clamp


def _on_policy(
    twin: type[BaseAlgorithm], spec: Spec, env: VecEnv, seed: int, device: str
) -> BaseAlgorithm:
    algo = spec.algorithm
    assert isinstance(algo, OnPolicyCommon)
    rollout = algo.num_steps * spec.env.num_envs
    rate = AnnealedRate(algo, spec.env.max_frame, rollout) if algo.anneal_lr else algo.lr
    policy_kwargs: dict[str, Any] = {
        "net_arch": {"pi": list(algo.actor.hidden), "vf": list(algo.critic.hidden)},
        "activation_fn": ACTIVATIONS[algo.actor.activation],
        "ortho_init": algo.ortho_init,
        "log_std_init": 0.0 if algo.log_std_init is None else algo.log_std_init,
    }
    common: dict[str, Any] = {
        "learning_rate": rate,
        "n_steps": algo.num_steps,
        "gamma": algo.gamma,
        "gae_lambda": algo.gae_lambda,
        "normalize_advantage": algo.normalize_advantage,
        "ent_coef": algo.ent_coef,
        "vf_coef": algo.vf_coef,
        "max_grad_norm": math.inf if algo.max_grad_norm is None else algo.max_grad_norm,
        "seed": seed,
        "device": device,
        "verbose": 0,
    }
    if isinstance(algo, A2CSpec):
        rmsprop = algo.optimizer == "rmsprop"
        if not rmsprop:  # SB3 builds RMSprop(alpha 0.99, eps rms_prop_eps) itself
            policy_kwargs["optimizer_kwargs"] = {"eps": algo.optimizer_eps}
        return cast("type[A2C]", twin)("MlpPolicy", env, use_rms_prop=rmsprop, rms_prop_eps=algo.optimizer_eps,
                    policy_kwargs=policy_kwargs, **common)  # fmt: skip
    assert isinstance(algo, PPOSpec)
    policy_kwargs["optimizer_kwargs"] = {"eps": PPO_ADAM_EPS}
    return cast("type[PPO]", twin)("MlpPolicy", env, batch_size=algo.batch_size, n_epochs=algo.num_epochs,
                clip_range=algo.clip_coef, policy_kwargs=policy_kwargs, **common)  # fmt: skip


def _dqn(
    twin: type[BaseAlgorithm], spec: Spec, env: VecEnv, seed: int, device: str, capacity: int
) -> BaseAlgorithm:
    algo = spec.algorithm
    assert isinstance(algo, DQNSpec)
    cadence = update_cadence(algo.utd, spec.env.num_envs)
    assert cadence is not None, "checked by sb3_unsupported"
    policy_kwargs = {
        "net_arch": list(algo.q_net.hidden),
        "activation_fn": ACTIVATIONS[algo.q_net.activation],
        "optimizer_kwargs": {"eps": algo.adam_eps},
    }
    return cast("type[DQN]", twin)(
        "MlpPolicy",
        env,
        learning_rate=algo.lr,
        buffer_size=capacity,
        learning_starts=algo.learning_starts,
        batch_size=algo.batch_size,
        tau=algo.tau,
        gamma=algo.gamma,
        train_freq=cadence[0],
        gradient_steps=cadence[1],
        target_update_interval=round(algo.target_update_interval / algo.utd),
        exploration_fraction=algo.exploration_frames / spec.env.max_frame,
        exploration_initial_eps=algo.epsilon_start,
        exploration_final_eps=algo.epsilon_end,
        max_grad_norm=math.inf if algo.max_grad_norm is None else algo.max_grad_norm,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device=device,
        verbose=0,
    )
