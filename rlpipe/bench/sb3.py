"""The same spec in Stable-Baselines3 / sb3-contrib, timed over the same window.

Mirrored exactly: network widths and activation, batch size, update-to-data ratio, buffer,
learning starts, discount, policy delay, Adam betas, entropy settings, Polyak tau and the
BatchRenorm settings. Learning rates do not change the cost of an update; SB3 takes one
for all optimisers, so the critic's is used; nor do the temperature's Adam betas, which
SB3 leaves at Adam's own. sb3-contrib's CrossQ actor has BatchRenorm or nothing, with the
critics' settings: it mirrors the spec's actor.norm, so the two sides run the same layers.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from rlpipe.algos.registry import algorithm
from rlpipe.bench.timing import BenchResult, Window, peak_memory, sync
from rlpipe.errors import RlpipeError
from rlpipe.spec.schema import Spec

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "elu": "ELU", "gelu": "GELU", "silu": "SiLU"}


def sb3_unsupported(spec: Spec) -> str | None:
    """Why this spec has no faithful SB3 twin, or None if it has one."""
    algo = spec.algorithm
    if algorithm(algo.name).peer is None or not hasattr(algo, "actor_lr"):
        return f"--vs sb3 compares the soft actor-critics (SAC, CrossQ), not {algo.name}"
    if spec.env.normalize_obs:
        return "SB3's SAC has no observation normalisation; use -s env.normalize_obs=false"
    if _has_targets(algo) and (algo.actor.norm.type != "none" or algo.critic.norm.type != "none"):
        return "SB3's SAC builds plain MLPs; the spec's network normalisation has no SB3 twin"
    if not _has_targets(algo) and algo.actor.norm.type not in ("none", "batch_renorm"):
        return (
            f"sb3-contrib's CrossQ actor has BatchRenorm or no normalisation, not "
            f"{algo.actor.norm.type}; use -s algorithm.actor.norm=none or batch_renorm"
        )
    if (
        not _has_targets(algo)
        and algo.actor.norm.type == "batch_renorm"
        and algo.actor.norm != algo.critic.norm
    ):
        return (
            "sb3-contrib's CrossQ gives the actor the critics' BatchRenorm settings; the "
            "spec's actor.norm differs from critic.norm"
        )
    if algo.utd >= 1 and algo.utd != int(algo.utd):
        return f"utd {algo.utd} is not a whole number of updates per frame"
    if algo.utd < 1 and (1 / algo.utd) != int(1 / algo.utd):
        return f"utd {algo.utd} is not one update every whole number of frames"
    if algo.max_grad_norm is not None:
        return "SB3's SAC does not clip gradients; use -s algorithm.max_grad_norm=null"
    return None


def _has_targets(algo: Any) -> bool:
    """Whether the algorithm keeps target critics (SAC) rather than none (CrossQ)."""
    return hasattr(algo, "tau")


def _model(spec: Spec, window: Window, env: Any) -> Any:
    try:
        from sb3_contrib import CrossQ
        from sb3_contrib.crossq.policies import CrossQPolicy
        from stable_baselines3 import SAC
    except ImportError as exc:
        raise RlpipeError(
            f"--vs sb3 needs Stable-Baselines3 and sb3-contrib ({exc.name} is missing): "
            'pip install -e ".[bench]"'
        ) from None
    algo = spec.algorithm
    policy_kwargs: dict[str, Any] = {
        "net_arch": {"pi": list(algo.actor.hidden), "qf": list(algo.critic.hidden)},
        "activation_fn": getattr(torch.nn, ACTIVATIONS[algo.actor.activation]),
        "n_critics": algo.n_critics,
        "optimizer_kwargs": {"betas": tuple(algo.adam_betas)},
    }
    train_freq, gradient_steps = (1, int(algo.utd)) if algo.utd >= 1 else (int(1 / algo.utd), 1)
    common = {
        "learning_rate": algo.critic_lr,
        "buffer_size": algo.learning_starts + window.warmup_frames + window.frames + 1,
        "learning_starts": algo.learning_starts,
        "batch_size": algo.batch_size,
        "gamma": algo.gamma,
        "train_freq": train_freq,
        "gradient_steps": gradient_steps,
        "ent_coef": f"auto_{algo.init_alpha}" if algo.autotune_alpha else algo.init_alpha,
        "target_entropy": algo.target_entropy,
        "seed": window.seed,
        "device": window.device,
        "verbose": 0,
    }
    if _has_targets(algo):
        return SAC(
            "MlpPolicy",
            env,
            tau=algo.tau,
            target_update_interval=algo.target_update_interval,
            policy_kwargs=policy_kwargs,
            **common,
        )
    norm = algo.critic.norm
    actor_batch_norm = algo.actor.norm.type == "batch_renorm"

    class ActorNormPolicy(CrossQPolicy):
        """sb3-contrib's CrossQ policy with BatchRenorm in the actor only if the spec has it."""

        def make_actor(self, features_extractor: Any = None) -> Any:
            self.actor_kwargs["batch_norm"] = actor_batch_norm
            return super().make_actor(features_extractor)

    policy_kwargs |= {
        "batch_norm_momentum": norm.momentum,
        "batch_norm_eps": norm.eps,
        "renorm_warmup_steps": norm.warmup_steps,
    }
    return CrossQ(
        ActorNormPolicy, env, policy_delay=algo.policy_delay, policy_kwargs=policy_kwargs, **common
    )


def bench_sb3(spec: Spec, window: Window) -> BenchResult:
    """Time SB3's learn() over the same window as `bench_rlpipe`."""
    why = sb3_unsupported(spec)
    if why is not None:
        raise RlpipeError(why)
    from stable_baselines3.common.callbacks import BaseCallback

    from rlpipe.envs import make_vec_env

    device = torch.device(window.device)
    torch.manual_seed(window.seed)
    # The same gymnasium env and wrappers as rlpipe's, unwrapped from its vector env.
    env = make_vec_env(spec.env, window.seed, num_envs=1, rescale_actions=True).unwrapped.envs[0]
    model = _model(spec, window, env)
    algo = spec.algorithm
    timed_from = algo.learning_starts + window.warmup_frames
    marks = {algo.learning_starts + 1: "start", timed_from + 1: "timed"}
    marks[timed_from + window.frames + 1] = "end"
    at: dict[str, tuple[float, int]] = {}

    class Clock(BaseCallback):
        """Reads the clock after env step T, before the update of step T (as rlpipe)."""

        def _on_step(self) -> bool:
            if self.num_timesteps in marks:
                sync(device)
                at[marks[self.num_timesteps]] = (time.perf_counter(), self.model._n_updates)
            return True

    model.learn(total_timesteps=max(marks), callback=Clock())
    env.close()
    host_mb, gpu_mb = peak_memory(device)
    return BenchResult(
        side="sb3",
        frames=window.frames,
        updates=at["end"][1] - at["timed"][1],
        seconds=at["end"][0] - at["timed"][0],
        warmup_s=at["timed"][0] - at["start"][0],
        peak_host_mb=host_mb,
        peak_gpu_mb=gpu_mb,
    )
