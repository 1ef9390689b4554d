"""Algorithms, one file each; `build_agent` picks the class named by the spec."""

from __future__ import annotations

import torch

from rlpipe.algos.a2c import A2C
from rlpipe.algos.crossq import CrossQ
from rlpipe.algos.dqn import DQN
from rlpipe.algos.ppo import PPO
from rlpipe.algos.sac import SAC
from rlpipe.envs import EnvShapes
from rlpipe.spec.schema import Spec

Agent = SAC | DQN | PPO
AGENTS = {"sac": SAC, "crossq": CrossQ, "ppo": PPO, "a2c": A2C, "dqn": DQN}


def squashes_actions(spec: Spec) -> bool:
    """Whether spec's agent acts in [-1, 1] (tanh-squashed) rather than in the env's units."""
    return AGENTS[spec.algorithm.name].squashes_actions


def build_agent(spec: Spec, shapes: EnvShapes, device: torch.device) -> Agent:
    """The agent for spec.algorithm, on device, for an env of the given shapes."""
    name = spec.algorithm.name
    if name in ("sac", "crossq"):
        return AGENTS[name](spec.algorithm, shapes, device, spec.env.normalize_obs)
    return AGENTS[name](spec, shapes, device)
