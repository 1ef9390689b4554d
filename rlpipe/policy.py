"""A run's trained policy, whoever trained it: one seed's final weights as an object that acts
(`act(obs, deterministic)`), for `rlpipe eval` and `rlpipe enjoy`.

rlpipe's own runs load into rlpipe's agent; parity runs (rlpipe train --peer) into their peer
library's twin (rlpipe/peers/evaluate.py). `trained_by_peer` is what tells the two apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from rlpipe.algos.registry import build_agent
from rlpipe.envs import EnvShapes
from rlpipe.peers import import_peer_module, trained_by_peer
from rlpipe.rundir import DamagedRunFile, RunFolder

if TYPE_CHECKING:
    from rlpipe.spec.schema import Spec

    class LoadsWeights(Protocol):
        """A policy that takes a seed's saved weights."""

        def load_state_dict(self, weights: dict[str, Any]) -> None: ...


class Policy(Protocol):
    """What evaluation and replays need of a trained policy."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of raw observations from the env."""


def check_finite_weights(weights: object, path: Path) -> None:
    """Raise DamagedRunFile if any tensor of the weights holds NaN or infinity (a policy that
    acts on them plays NaN actions, or no policy at all)."""
    if isinstance(weights, torch.Tensor):
        if weights.is_floating_point() and not bool(torch.isfinite(weights).all()):
            raise DamagedRunFile(
                f"{path} holds NaN or infinite weights; re-train the run or restore the file"
            )
    elif isinstance(weights, dict):
        for value in weights.values():
            check_finite_weights(value, path)
    elif isinstance(weights, list | tuple):
        for value in weights:
            check_finite_weights(value, path)


@contextlib.contextmanager
def seed_policy(
    run: RunFolder, seed: int, shapes: EnvShapes, device: torch.device
) -> Iterator[Policy]:
    """One seed's final policy, for envs of `shapes`: rlpipe's agent, or a parity run's twin."""
    spec: Spec = run.read_spec().spec
    model = run.seed(seed).model
    weights = run.seed(seed).load_weights(device)
    check_finite_weights(weights, model)
    if trained_by_peer(run):
        twin = import_peer_module("rlpipe.peers.evaluate").twin_policy
        with twin(spec, seed, weights, model, device) as policy:
            yield policy
        return
    agent = build_agent(spec, shapes, device)
    load_weights_into(agent, weights, model, "weights for this run's spec")
    yield agent


def load_weights_into(
    policy: LoadsWeights, weights: dict[str, Any], model: Path, what: str
) -> None:
    """Load a seed's weights into a policy, or raise DamagedRunFile saying the file does not hold
    `what`."""
    try:
        policy.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        reason = str(error).split("\n", 1)[0]
        raise DamagedRunFile(
            f"{model} does not hold {what} ({reason}); re-train the run or restore the file"
        ) from None
