"""What of a spec Stable-Baselines3 / sb3-contrib can mirror, and which library versions train it.

Nothing here imports the peer libraries, so the suite, the stages and the bench can check a spec
(and read the installed versions) without them. Every spec field the twin cannot reproduce
exactly is named in `sb3_unsupported`'s answer; none is silently dropped.
"""

from __future__ import annotations

from typing import Any

from rlpipe.algos.registry import ALGORITHMS, algorithm
from rlpipe.errors import RlpipeError
from rlpipe.rundir.provenance import package_version
from rlpipe.spec.schema import (
    CrossQSpec,
    DQNSpec,
    OffPolicyCommon,
    OnPolicyCommon,
    PPOSpec,
    SACSpec,
    Spec,
    known_action_kind,
)

SB3 = "stable-baselines3"
DISTRIBUTIONS = {"stable_baselines3": SB3, "sb3_contrib": "sb3-contrib"}
"""Import name -> distribution name of the peer libraries."""
SB3_LOG_STD_BOUNDS = (-20.0, 2.0)  # LOG_STD_MIN, LOG_STD_MAX of SB3's and sb3-contrib's actors


def peer_class(spec: Spec) -> str:
    """The "package:Class" that trains the spec's twin (the registry's peer entry)."""
    peer = algorithm(spec.algorithm.name).peer
    if peer is None:
        with_peer = ", ".join(name for name, entry in ALGORITHMS.items() if entry.peer)
        raise RlpipeError(
            f"algorithm {spec.algorithm.name} has no Stable-Baselines3 twin; {with_peer} have one"
        )
    return peer


def library(spec: Spec) -> str:
    """The distribution that implements the spec's algorithm (sb3-contrib for CrossQ)."""
    return DISTRIBUTIONS[peer_class(spec).partition(":")[0]]


def libraries(spec: Spec) -> tuple[str, ...]:
    """Every distribution whose code trains the twin: SB3 itself, and the algorithm's library."""
    return tuple(dict.fromkeys((SB3, library(spec))))


def update_cadence(utd: float, num_envs: int) -> tuple[int, int] | None:
    """SB3's (train_freq in vector steps, gradient_steps) for rlpipe's updates per env frame, or
    None where no whole numbers give the same updates at the same frames."""
    per_step = utd * num_envs
    if per_step >= 1 and per_step == int(per_step):
        return 1, int(per_step)
    if per_step < 1 and 1 / per_step == int(1 / per_step):
        return int(1 / per_step), 1
    return None


def sb3_unsupported(spec: Spec) -> str | None:
    """Why this spec has no faithful SB3 twin (naming the spec field), or None if it has one."""
    algo, env = spec.algorithm, spec.env
    if algorithm(algo.name).peer is None:
        with_peer = ", ".join(name for name, entry in ALGORITHMS.items() if entry.peer)
        return f"algorithm {algo.name} has no Stable-Baselines3 twin; {with_peer} have one"
    if env.atari is not None:
        return (
            f"env.atari: the SB3 twin mirrors vector observations only ({env.id} needs rlpipe's "
            "Atari wrappers, episodic-life signal and reward clipping)"
        )
    if algo.precision != "fp32":
        return f"algorithm.precision {algo.precision}: the SB3 twin trains in fp32"
    if isinstance(algo, DQNSpec):
        return _dqn_unsupported(algo, spec)
    if algo.actor.activation != algo.critic.activation:
        return (
            f"algorithm.critic.activation {algo.critic.activation}: SB3 uses one activation for "
            f"the actor ({algo.actor.activation}) and the critics; make them equal"
        )
    if isinstance(algo, OnPolicyCommon):
        return _on_policy_unsupported(algo, spec)
    return _soft_actor_critic_unsupported(algo, spec)


def _soft_actor_critic_unsupported(algo: OffPolicyCommon, spec: Spec) -> str | None:
    env = spec.env
    if known_action_kind(env.id) == "discrete":
        return (
            f"env.id {env.id} has discrete actions; SB3's SAC and sb3-contrib's CrossQ take "
            "continuous actions only"
        )
    if algo.max_grad_norm is not None:
        return "algorithm.max_grad_norm: SB3's SAC does not clip gradients; use -s algorithm.max_grad_norm=null"
    if algo.log_std_bounds != SB3_LOG_STD_BOUNDS:
        lo, hi = SB3_LOG_STD_BOUNDS
        return f"algorithm.log_std_min/log_std_max: SB3 clamps the policy's log std to [{lo:g}, {hi:g}]"
    why = _cadence_unsupported(algo.utd, spec)
    if why is not None:
        return why
    if isinstance(algo, SACSpec):
        if algo.policy_delay != 1:
            return (
                f"algorithm.policy_delay {algo.policy_delay}: SB3's SAC updates the actor at "
                "every critic update; set it to 1"
            )
        if algo.target_update_interval != 1:
            return (
                f"algorithm.target_update_interval {algo.target_update_interval}: SB3's SAC "
                "counts it within each train() call, not over the run; only 1 is mirrored"
            )
        for key in ("actor", "critic"):
            if getattr(algo, key).norm.type != "none":
                return f"algorithm.{key}.norm: SB3's SAC builds plain MLPs (norm none)"
    if isinstance(algo, CrossQSpec) and algo.actor.norm.type == "layer":
        return "algorithm.actor.norm layer: sb3-contrib's CrossQ actor takes BatchRenorm or none"
    return None


def _cadence_unsupported(utd: float, spec: Spec) -> str | None:
    """Why SB3's train_freq/gradient_steps cannot give these updates at these frames, or None."""
    env = spec.env
    cadence = update_cadence(utd, env.num_envs)
    if cadence is None:
        return (
            f"algorithm.utd {utd} with env.num_envs {env.num_envs}: "
            f"{utd * env.num_envs:g} updates per vector step is not a whole number of updates, "
            "nor one update every whole number of steps, as SB3's train_freq/gradient_steps need"
        )
    frames_per_round = cadence[0] * env.num_envs
    if env.max_frame % frames_per_round:
        return (
            f"env.max_frame {env.max_frame}: SB3 collects {frames_per_round} frames per update "
            f"round here (train_freq x env.num_envs); use a multiple of {frames_per_round}"
        )
    return None


def _dqn_unsupported(algo: DQNSpec, spec: Spec) -> str | None:
    if algo.double_q:
        return "algorithm.double_q: SB3's DQN has no Double DQN target; set it to false"
    if algo.loss != "huber":
        return f"algorithm.loss {algo.loss}: SB3's DQN trains on the Huber loss only"
    if algo.q_net.norm.type != "none":
        return "algorithm.q_net.norm: SB3's DQN builds a plain MLP (norm none)"
    why = _cadence_unsupported(algo.utd, spec)
    if why is not None:
        return why
    target_frames = algo.target_update_interval / algo.utd
    if target_frames != int(target_frames) or int(target_frames) % spec.env.num_envs:
        return (
            f"algorithm.target_update_interval {algo.target_update_interval} updates at utd "
            f"{algo.utd} is {target_frames:g} frames; SB3 counts it in whole vector steps of "
            f"env.num_envs {spec.env.num_envs} frames"
        )
    return None


def _on_policy_unsupported(algo: OnPolicyCommon, spec: Spec) -> str | None:
    env = spec.env
    if algo.shared_network:
        return (
            "algorithm.shared_network: SB3's MlpPolicy builds separate policy and value "
            "networks; set it to false"
        )
    if isinstance(algo, PPOSpec) and (why := _ppo_unsupported(algo)) is not None:
        return why
    rollout = algo.num_steps * env.num_envs
    if env.max_frame % rollout:
        whole = max(1, round(env.max_frame / rollout)) * rollout
        return (
            f"env.max_frame {env.max_frame} is not a whole number of rollouts "
            f"(algorithm.num_steps x env.num_envs = {rollout}): SB3 collects whole rollouts, "
            f"rlpipe cuts the last one short; use a multiple of {rollout}, e.g. {whole}"
        )
    return None


def _ppo_unsupported(algo: PPOSpec) -> str | None:
    if algo.clip_value_loss:
        return (
            "algorithm.clip_value_loss: SB3 clips the value prediction (clip_range_vf) and takes "
            "its squared error alone, not the larger of the clipped and unclipped errors; set "
            "it to false"
        )
    if algo.target_kl is not None:
        return (
            "algorithm.target_kl: SB3 stops at the first minibatch whose KL exceeds 1.5 x "
            "target_kl, rlpipe after the epoch that exceeds target_kl; set it to null"
        )
    return None


def check_mirrorable(spec: Spec) -> None:
    """Raise RlpipeError naming the field if the spec has no faithful SB3 twin."""
    why = sb3_unsupported(spec)
    if why is not None:
        raise RlpipeError(f"--peer sb3: {why}")


# ---------------------------------------------------------------------------- versions


def installed_versions(spec: Spec) -> dict[str, str]:
    """{distribution: installed version} of the libraries that train the twin."""
    versions = {}
    for name in libraries(spec):
        version = package_version(name)
        if version is None:
            raise RlpipeError(
                f"the SB3 twin of {spec.algorithm.name} needs {name}, which is not installed: "
                'pip install -e ".[bench]"'
            )
        versions[name] = version
    return versions


def version_pins(spec: Spec) -> tuple[str, ...]:
    """The installed libraries that train the twin as pins ("sb3-contrib==2.9.2")."""
    return tuple(f"{name}=={version}" for name, version in installed_versions(spec).items())


def check_version_pins(spec: Spec, pins: tuple[str, ...]) -> None:
    """Raise RlpipeError unless `pins` name exactly the installed versions of the twin's
    libraries (no pins: nothing to check)."""
    if not pins:
        return
    installed = installed_versions(spec)
    pinned = {}
    for pin in pins:
        name, sep, version = pin.partition("==")
        if not sep or not name or not version:
            raise RlpipeError(f"--peer-version {pin!r}: expected a pin like sb3-contrib==2.9.2")
        pinned[name] = version
    if set(pinned) != set(installed):
        raise RlpipeError(
            f"--peer-version pins {sorted(pinned)}, but the twin of {spec.algorithm.name} is "
            f"trained by {sorted(installed)}; run `rlpipe suite stages` to rewrite the stage"
        )
    for name, version in pinned.items():
        if installed[name] != version:
            raise RlpipeError(
                f"--peer-version {name}=={version}: {name} {installed[name]} is installed. The "
                f"stage was written for {version}: install {name}=={version}, or run `rlpipe "
                f"suite stages` to make it use {installed[name]} (its runs then train again)"
            )


def peer_record(spec: Spec, peer: str) -> dict[str, Any]:
    """What provenance.json says about the peer that trained a run."""
    return {
        "name": peer,
        "implementation": peer_class(spec),
        "library": library(spec),
        "version": installed_versions(spec)[library(spec)],
        "versions": installed_versions(spec),
    }
