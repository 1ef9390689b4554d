"""Algorithms, one file each; `build_agent` picks the class named by the spec."""

from __future__ import annotations

import torch

from rlpipe.algos.crossq import CrossQ
from rlpipe.algos.sac import SAC
from rlpipe.envs import EnvShapes
from rlpipe.spec.schema import Spec

AGENTS = {"sac": SAC, "crossq": CrossQ}


def build_agent(spec: Spec, shapes: EnvShapes, device: torch.device) -> SAC:
    """The agent for spec.algorithm, on device, for an env of the given shapes."""
    return AGENTS[spec.algorithm.name](spec.algorithm, shapes, device, spec.env.normalize_obs)
