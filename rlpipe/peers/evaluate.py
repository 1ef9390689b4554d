"""A parity run's seed as a policy: its final weights loaded into the SB3 twin, with the
observation statistics it trained with (rlpipe/policy.py picks it for peer runs). Not training
code: eval and replay stages depend on it, train stages do not."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from rlpipe.loops.evaluate import eval_seed
from rlpipe.peers.sb3 import build_model, sb3_env
from rlpipe.peers.train import TwinAgent
from rlpipe.policy import load_weights_into
from rlpipe.spec.schema import Spec


@contextlib.contextmanager
def twin_policy(
    spec: Spec, seed: int, weights: dict[str, Any], model: Path, device: torch.device
) -> Iterator[TwinAgent]:
    """The twin of `spec` holding one seed's weights (read from `model`)."""
    env = sb3_env(spec, seed)
    try:
        agent = TwinAgent(build_model(spec, env, seed, str(device), buffer_size=1), env, spec,
                          eval_seed(seed))  # fmt: skip
        load_weights_into(agent, weights, model, "the SB3 twin's weights for this run's spec")
        yield agent
    finally:
        env.close()
